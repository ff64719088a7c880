"""Typed configuration classes.  Values come from the environment over safe defaults.

``UNIONFLOW_ENV`` picks the class (development, production, testing).  Any setting can
also be given as ``UNIONFLOW_<NAME>`` (Flask's ``from_prefixed_env``), e.g.
``UNIONFLOW_MAIL_SERVER``; the common ones have their plain names: ``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY``, ``DEMO_PASSWORD``.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from datetime import timedelta
from urllib.parse import urlsplit

# Placeholders that must never sign a production session.
INSECURE_SECRET_KEYS = frozenset({"", "dev", "change-me", "changeme", "secret", "development"})
MIN_SECRET_KEY_LENGTH = 32
# 32 × "a" or a row of dots is long but guessable; token_hex(32) has 16 distinct characters
# (with certainty short of 1 in 10^40 it shows at least 10), token_urlsafe more.
MIN_SECRET_KEY_DISTINCT = 10


class Config:
    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # PostgreSQL: seconds a new connection may take before it fails (psycopg's own default
    # is 130 s, libpq's none): /healthz and a request then answer instead of hanging on
    # an unreachable host.
    DATABASE_CONNECT_TIMEOUT = 5
    REDIS_URL: str | None = None  # None: the embedded in-process queue
    DEMO_PASSWORD: str | None = None

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    BOOTSTRAP_SERVE_LOCAL = True  # never a CDN: the pages must load on a closed network

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # A signed-in browser left idle this long is signed out (0: never) — a rest station's
    # shared tablet; "remember me" (one's own phone) is not.
    SESSION_IDLE_MINUTES = 120

    # The largest request taken at all (413 beyond it, before it is read): the biggest
    # shipped step form carries five 20 MB attachments.  Each file field still has its own
    # limit; the definitions editor sets a far smaller one for itself.
    MAX_CONTENT_LENGTH = 110 * 1024 * 1024

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session it belongs to

    # Failed sign-ins allowed before further attempts are refused for a while: per
    # username, and per client address — larger, as a rest station's shared tablet or a
    # mobile network puts many people behind one address.
    LOGIN_FAILURE_LIMITS = ("5 per 5 minutes", "20 per hour")
    LOGIN_ADDRESS_FAILURE_LIMITS = ("30 per 5 minutes", "100 per hour")
    # JSON API bearer tokens: how long one lives, and how many a person may ask for.
    API_TOKEN_TTL = timedelta(days=30)
    TOKEN_ISSUE_LIMITS = ("30 per hour",)
    RATELIMIT_STORAGE_URI: str | None = None  # None: REDIS_URL if set, else memory

    # Notifications: e-mail backend "file" (instance/outbox, development), "console" or
    # "smtp" (MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS).
    MAIL_BACKEND = "file"
    MAIL_FROM = "noreply@unionflow.local"
    PUBLIC_URL = "http://127.0.0.1:5000"  # links in e-mails
    DELIVERY_MAX_ATTEMPTS = 5
    DELIVERY_STALE_SECONDS = 60  # a "sending" row older than this was abandoned by a worker
    # Deliveries a job claims, sends and marks sent together (one SMTP connection); a
    # crash can re-send at most this many (webapp/services/outbox.py).  1: at most one.
    DELIVERY_GROUP = 20
    # Seconds a process keeps its copy of the unit webhooks (`flask webhook` refreshes it).
    WEBHOOK_CACHE_SECONDS = 60
    CALENDAR_CACHE_SECONDS = 300
    STATION_CHOICES_LIMIT = 200
    # Lists of what is open now (inbox, wish wall) count at most this many rows and then
    # say "1000+": their count no longer grows with the city.
    COUNT_LIMIT = 1000
    SWEEP_INTERVAL = 15.0  # seconds between sweeps (due timers, lost deliveries, digests)
    EMBEDDED_WORKER = True  # without REDIS_URL: run jobs in a thread of the web process
    EMBEDDED_WORKER_AUTOSTART = True  # start it with the first request, for timers

    PROXY_FIX = False  # production: trust one proxy in front for X-Forwarded-For/-Proto
    PROXY_FIX_HOST = False  # also X-Forwarded-Host (only if the proxy sets it)
    PROXY_FIX_PREFIX = False  # also X-Forwarded-Prefix (only if the proxy sets it)
    HSTS = False

    @classmethod
    def from_environ(cls, environ: os._Environ | dict) -> dict:
        """The settings this environment gives by their plain, well-known names."""
        out = {}
        for name, key in (("DATABASE_URL", "SQLALCHEMY_DATABASE_URI"), ("REDIS_URL", "REDIS_URL"),
                          ("SECRET_KEY", "SECRET_KEY"), ("DEMO_PASSWORD", "DEMO_PASSWORD")):
            if environ.get(name):
                out[key] = environ[name]
        return out


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PROXY_FIX = True
    HSTS = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production-use-0123456789"
    LOGIN_FAILURE_LIMITS = ("5 per 5 minutes",)
    LOGIN_ADDRESS_FAILURE_LIMITS = ("12 per 5 minutes",)
    SWEEP_INTERVAL = None  # tests sweep when they choose to
    EMBEDDED_WORKER = False  # tests run jobs themselves, or turn the thread on
    EMBEDDED_WORKER_AUTOSTART = False


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def normalise_database_url(url: str) -> str:
    """Let people paste the usual ``postgres://`` / ``postgresql://`` URLs; we drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` is not fit to sign production sessions, or None if it is."""
    if not key or key.strip().lower() in INSECURE_SECRET_KEYS:
        return "SECRET_KEY is not set"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        return (f"SECRET_KEY has fewer than {MIN_SECRET_KEY_DISTINCT} different characters "
                "(not random)")
    return None


def public_url_problem(url: str | None) -> str | None:
    """Why ``url`` cannot be the site's address in e-mails (links people open on their
    phones), or None if it can."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or url != url.strip():
        return f"UNIONFLOW_PUBLIC_URL ({url!r}) is not an http(s) address"
    host = parts.hostname.rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the shorthands a browser also takes: 127.1, 0, 2130706433
            address = ipaddress.ip_address(socket.inet_aton(host)) \
                if host.replace(".", "").isdigit() else None
        except OSError:
            address = None
    if address is not None and getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    if address is not None:
        local = address.is_loopback or address.is_unspecified
    else:
        local = host == "localhost" or host.endswith(".localhost")
    if local:
        return f"UNIONFLOW_PUBLIC_URL ({url}) is this machine's own address"
    return None
