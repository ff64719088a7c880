"""Where the throttles count: each app its own storage, Redis when configured."""
from __future__ import annotations

from limits import parse
from limits.storage import MemoryStorage, RedisStorage

from webapp import create_app
from webapp.extensions import limiter


def test_each_app_counts_in_its_own_configured_storage(app, app_config):
    other = create_app({**app_config, "RATELIMIT_STORAGE_URI": "memory://"})
    redis = app_config["RATELIMIT_STORAGE_URI"].startswith("redis")
    assert isinstance(limiter.strategy.storage, RedisStorage if redis else MemoryStorage)
    item = parse("2/minute")
    assert limiter.strategy.hit(item, "test-scope", "k") and limiter.strategy.hit(
        item, "test-scope", "k")
    assert not limiter.strategy.test(item, "test-scope", "k")  # this app: spent
    with other.app_context():
        assert isinstance(limiter.strategy.storage, MemoryStorage)
        assert limiter.strategy.test(item, "test-scope", "k")  # the other: untouched
    limiter.strategy.clear(item, "test-scope", "k")
    assert limiter.strategy.test(item, "test-scope", "k")
