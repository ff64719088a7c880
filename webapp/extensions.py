"""Extension objects, created unbound and attached in ``create_app`` with ``init_app``."""
from __future__ import annotations

from flask import Flask, current_app
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic can alter and drop them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()


LIMITS_REDIS_TIMEOUT = 2  # seconds


class RateLimits:
    """Where the throttles count (the ``limits`` package): Redis when configured, so a
    count holds across gunicorn workers, else this process's memory
    (``RATELIMIT_STORAGE_URI``).  Nothing is limited per request — each throttled action
    (sign-in failures, token requests) asks for itself through ``security.rate_limits``
    — so, unlike a request-limiting extension, no hook runs on every request."""

    def init_app(self, app: Flask) -> None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        uri = app.config["RATELIMIT_STORAGE_URI"]
        # A Redis that hangs costs a sign-in seconds, not the request.
        options = ({"socket_connect_timeout": LIMITS_REDIS_TIMEOUT,
                    "socket_timeout": LIMITS_REDIS_TIMEOUT}
                   if uri.startswith(("redis://", "rediss://", "redis+unix://")) else {})
        app.extensions["rate_limits"] = FixedWindowRateLimiter(
            storage_from_string(uri, **options))

    @property
    def strategy(self):
        """This app's fixed-window limiter (``hit``, ``test``, ``clear``)."""
        return current_app.extensions["rate_limits"]


limiter = RateLimits()
