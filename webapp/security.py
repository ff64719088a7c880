"""Cross-cutting web security: safe redirects, sign-in throttling, response headers."""
from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from limits import parse_many

from webapp.extensions import limiter


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site may follow sign-in: no scheme, host, ``//`` or ``\\`` tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _storage_failed(exc: Exception) -> bool:
    import redis
    from limits.errors import StorageError

    return isinstance(exc, (StorageError, redis.exceptions.RedisError, ConnectionError))


def rate_limits(call):
    """``call(strategy)`` on the limiter's storage; if that storage (Redis) is unreachable,
    on a memory storage of this process instead, so sign-in keeps working — and keeps
    counting failures — while Redis is down."""
    try:
        return call(limiter.strategy)
    except Exception as exc:
        if not _storage_failed(exc):
            raise
        current_app.logger.warning("rate-limit storage unavailable (%s): counting in memory",
                                   exc)
        from limits.storage import MemoryStorage

        fallback = current_app.extensions.get("unionflow_limits_fallback")
        if fallback is None:
            fallback = type(limiter.strategy)(MemoryStorage())
            current_app.extensions["unionflow_limits_fallback"] = fallback
        return call(fallback)


class LoginThrottle:
    """Counts failed sign-ins per username and per client address in the limiter's storage.

    Only failures count, so a person who types the password right is never slowed; the
    storage is Redis when configured, so the count holds across gunicorn workers.  An
    address gets a far larger allowance than a name: a rest station's shared tablet, or
    riders behind one mobile network's address, must not all be locked out by one
    person's typos — while one address guessing through many names is still stopped.
    """

    def _keyed_limits(self, username: str) -> list[tuple[Any, str, str]]:
        config = current_app.config
        name = (username or "").strip().lower()[:64]
        return ([(item, "login-user", name)
                 for item in _parsed(config["LOGIN_FAILURE_LIMITS"])]
                + [(item, "login-ip", request.remote_addr or "?")
                   for item in _parsed(config["LOGIN_ADDRESS_FAILURE_LIMITS"])])

    def blocked(self, username: str) -> bool:
        return rate_limits(lambda strategy: any(
            not strategy.test(item, scope, key)
            for item, scope, key in self._keyed_limits(username)))

    def failed(self, username: str) -> None:
        def hit(strategy):
            for item, scope, key in self._keyed_limits(username):
                strategy.hit(item, scope, key)
        rate_limits(hit)

    def retry_after(self, username: str) -> dict[str, str]:
        """The ``Retry-After`` header of a refused sign-in of ``username``."""
        return retry_after(self._keyed_limits(username))

    def succeeded(self, username: str) -> None:
        # A good sign-in forgives this username's earlier typos, not the address's.
        def clear(strategy):
            for item, scope, key in self._keyed_limits(username):
                if scope == "login-user":
                    strategy.clear(item, scope, key)
        rate_limits(clear)


def retry_after(limits: list[tuple[Any, str, str]]) -> dict[str, str]:
    """``Retry-After`` for a 429: whole seconds until every spent window among ``limits``
    ((item, scope, key), as counted) has passed, so a client need not guess."""
    def seconds(strategy) -> float:
        stats = [strategy.get_window_stats(*limit) for limit in limits]
        spent = [s.reset_time for s in stats if s.remaining == 0]
        return max(spent, default=0) - time.time()
    return {"Retry-After": str(max(1, math.ceil(rate_limits(seconds))))}


def _parsed(limits) -> tuple:
    return _parse(tuple(limits or ()))


@lru_cache(maxsize=16)
def _parse(limits: tuple[str, ...]) -> tuple:
    return tuple(parse_many("; ".join(limits))) if limits else ()


login_throttle = LoginThrottle()


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_in_query():
        # No one types a NUL; PostgreSQL refuses it in text, so it would surface as a 500.
        if any("\x00" in key or "\x00" in value
               for key, value in request.args.items(multi=True)):
            abort(400)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        if request.endpoint != "static":
            # Pages and answers carry people's names, phones and ID numbers: nothing kept
            # on a shared phone or a rest station's tablet for the next person to page
            # back to after signing out.  Static files keep Flask's own caching.
            headers.setdefault("Cache-Control", "no-store")
        if app.config["HSTS"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
