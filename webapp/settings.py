"""Every known setting checked, and made its type, before the app is built.

``from_prefixed_env`` keeps a value that is not JSON as a string ("2h", "15s",
"False"): left so, it fails later, on a page, in a thread or in a job.  Here each known
setting is turned into what the code reads (a whole number, a boolean, a list of
limits, a ``timedelta``) or start-up is refused with one line that names the variable,
the value and what is expected.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import click

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})
MAIL_BACKENDS = ("smtp", "console", "file")
REDIS_SCHEMES = ("redis", "rediss", "unix")
# The settings given by their plain, well-known names as well as UNIONFLOW_<NAME>.
PLAIN_NAMES = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL", "REDIS_URL": "REDIS_URL",
               "SECRET_KEY": "SECRET_KEY", "DEMO_PASSWORD": "DEMO_PASSWORD"}


class ConfigError(click.ClickException, RuntimeError):
    """A setting the app cannot start with.  A ``ClickException`` so that ``flask …``
    prints its one line and exits 1; a ``RuntimeError`` for anyone calling
    ``create_app`` directly."""


class Invalid(ValueError):
    """Raised by a converter: its text says what is expected."""


def variable_name(key: str, environ=os.environ) -> str:
    """The environment variable an operator would set for ``key``."""
    prefixed = f"UNIONFLOW_{key}"
    plain = PLAIN_NAMES.get(key)
    if prefixed not in environ and plain and plain in environ:
        return plain
    return prefixed


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced, fit for a log line or an error."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(unparsable URL)"


def _shown(key: str, value: Any) -> str:
    if key in ("SECRET_KEY", "MAIL_PASSWORD", "DEMO_PASSWORD"):
        return "(hidden)"
    if isinstance(value, str):
        return redacted(value) if "://" in value else value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


# --- converters: value -> typed value, or Invalid(what is expected) ----------------------

def whole(what: str, minimum: int = 1, maximum: int | None = None, example: str = ""
          ) -> Callable[[Any], int]:
    if maximum is not None:
        bound = f" from {minimum} to {maximum}"
    else:
        bound = "" if minimum == 0 else f" ({minimum} or more)"

    def convert(value):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
                or (maximum is not None and value > maximum)):
            raise Invalid(f"expected a whole number of {what}{bound}{example}")
        return value
    return convert


def number(what: str, minimum: float = 0, allow_none: bool = False, above: bool = False):
    def convert(value):
        if value is None and allow_none:
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or value != value or value < minimum or (above and value == minimum)):
            bound = f"greater than {minimum:g}" if above else f"{minimum:g} or more"
            raise Invalid(f"expected a number of {what}, {bound} (no unit: 15, not 15s)")
        return value
    return convert


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise Invalid("expected true or false (also 1/0, yes/no)")


def seconds_duration(value):
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise Invalid("expected a whole number of seconds greater than 0")
        return value
    try:
        return timedelta(seconds=whole("seconds")(value))
    except Invalid:
        raise Invalid("expected a whole number of seconds, e.g. 43200 for 12 hours") from None


def rate_limits(value):
    """A JSON list of limits, or one string ("50 per hour"; several joined by ";")."""
    from limits import parse_many

    items = (value,) if isinstance(value, str) else value
    expected = 'expected rate limits like "30 per hour" (or a JSON list of them)'
    if not isinstance(items, (list, tuple)) or not items or \
            not all(isinstance(i, str) and i.strip() for i in items):
        raise Invalid(expected)
    for item in items:
        try:
            parse_many(item)
        except ValueError:
            raise Invalid(expected) from None
    return tuple(item.strip() for item in items)


def choice(options: tuple[str, ...], case_insensitive: bool = True):
    def convert(value):
        text = value.strip().lower() if case_insensitive and isinstance(value, str) else value
        for option in options:
            if text == (option.lower() if case_insensitive else option):
                return option
        raise Invalid(f"expected one of {', '.join(options)}")
    return convert


def optional_url(schemes: tuple[str, ...], example: str):
    def convert(value):
        if value in (None, ""):
            return None
        if not isinstance(value, str) or urlsplit(value).scheme not in schemes:
            raise Invalid(f"expected a URL starting {' or '.join(s + '://' for s in schemes)}"
                          f", e.g. {example}")
        return value
    return convert


def storage_uri(value):
    if not isinstance(value, str) or "://" not in value:
        raise Invalid("expected a storage URI such as redis://host:6379/1 or memory://")
    return value


def database_url(value):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except (ArgumentError, ValueError, TypeError):
        raise Invalid("expected a database URL, e.g. postgresql://user:pass@host/unionflow"
                      ) from None
    return value


def time_zone(value):
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except (ValueError, TypeError, KeyError, OSError):
        raise Invalid("expected a time zone name such as Asia/Shanghai") from None
    return value


SETTINGS: dict[str, Callable[[Any], Any]] = {
    "SESSION_IDLE_MINUTES": whole("minutes", minimum=0, example=" (0: never)"),
    "PERMANENT_SESSION_LIFETIME": seconds_duration,
    "REMEMBER_COOKIE_DURATION": seconds_duration,
    "API_TOKEN_TTL": seconds_duration,
    "MAX_CONTENT_LENGTH": whole("bytes", example=", e.g. 115343360 for 110 MB"),
    "TOKEN_ISSUE_LIMITS": rate_limits,
    "LOGIN_FAILURE_LIMITS": rate_limits,
    "LOGIN_ADDRESS_FAILURE_LIMITS": rate_limits,
    "SWEEP_INTERVAL": number("seconds", allow_none=True, above=True),
    "DELIVERY_GROUP": whole("deliveries"),
    "DELIVERY_MAX_ATTEMPTS": whole("attempts"),
    "DELIVERY_STALE_SECONDS": number("seconds", above=True),
    "WEBHOOK_CACHE_SECONDS": number("seconds"),
    "CALENDAR_CACHE_SECONDS": number("seconds"),
    "STATION_CHOICES_LIMIT": whole("stations"),
    "COUNT_LIMIT": whole("rows"),
    "MAIL_PORT": whole("port", maximum=65535),
    "MAIL_FILE_DELAY": number("seconds"),
    "MAIL_BACKEND": choice(MAIL_BACKENDS),
    "REDIS_URL": optional_url(REDIS_SCHEMES, "redis://redis-host:6379/0"),
    "RATELIMIT_STORAGE_URI": storage_uri,
    "SQLALCHEMY_DATABASE_URI": database_url,
    # libpq and psycopg take less than 2 as 2 (and 0 as no limit): asked for as it works.
    "DATABASE_CONNECT_TIMEOUT": whole("seconds", minimum=2),
    "BABEL_DEFAULT_TIMEZONE": time_zone,
    **{name: boolean for name in (
        "MAIL_USE_TLS", "MAIL_USE_SSL", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY", "WTF_CSRF_ENABLED",
        "PROXY_FIX", "PROXY_FIX_HOST", "PROXY_FIX_PREFIX", "HSTS", "EMBEDDED_WORKER",
        "EMBEDDED_WORKER_AUTOSTART", "BOOTSTRAP_SERVE_LOCAL")},
}


def check(config: dict) -> None:
    """Convert every known setting in ``config`` in place; ConfigError on the first one
    that cannot be."""
    for key, convert in SETTINGS.items():
        if key not in config:
            continue
        try:
            config[key] = convert(config[key])
        except Invalid as exc:
            raise ConfigError(f"{variable_name(key)}={_shown(key, config[key])}: {exc}"
                              ) from None
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise ConfigError("UNIONFLOW_MAIL_USE_TLS and UNIONFLOW_MAIL_USE_SSL are both on: "
                          "expected one (SSL for port 465, TLS/STARTTLS for 587)")


def environment_name(value: str | None, known) -> str:
    name = (value or "").strip().lower()
    if name not in known:
        raise ConfigError(f"UNIONFLOW_ENV={value}: expected one of {', '.join(known)}")
    return name


def instance_path(value: str | None) -> str | None:
    """An absolute instance folder: a relative one is taken from the current directory."""
    return os.path.abspath(value) if value else None


def writable_folder(key: str, path: str | os.PathLike) -> Path:
    """``path`` as a directory this process can write to (created if missing)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{variable_name(key)}={path}: expected a directory, not a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{variable_name(key)}={path}: cannot be created ({exc.strerror})"
                          ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{variable_name(key)}={path}: expected a directory this user "
                          "can write to")
    return folder
