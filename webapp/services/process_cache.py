"""Small tables read at most every so many seconds per process, instead of per request.

For rows that change rarely and by an administrator (unit webhooks, the holiday
calendar): a change made in this process can be seen at once with ``forget(key)``;
other processes see it once their copy is older than the setting.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from flask import current_app

T = TypeVar("T")


def cached(key: str, setting: str, load: Callable[[], T], default_seconds: float = 60) -> T:
    """``load()``'s value, read again when this process's copy is older than the
    ``setting`` configuration value (seconds; 0 reads every time)."""
    app = current_app._get_current_object()
    ttl = float(app.config.get(setting, default_seconds))
    copy = app.extensions.get(key)
    now = time.monotonic()
    if copy is None or now - copy[0] >= ttl:
        copy = app.extensions[key] = (now, load())
    return copy[1]


def forget(key: str) -> None:
    current_app.extensions.pop(key, None)
