"""UnionFlow web application: ``create_app`` builds it, step by step, in a fixed order."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from webapp import settings
from webapp.config import (CONFIGS, Config, normalise_database_url, public_url_problem,
                           secret_key_problem)
from webapp.settings import ConfigError


def create_app(test_config: dict | None = None) -> Flask:
    try:
        return _build_app(test_config)
    except ConfigError as exc:
        if not _under_flask_command():
            raise
        # A command shows a ClickException as one line, but Flask's CLI prints a
        # factory's error at `flask --help` as a traceback followed by the help, with exit
        # status 0 (FlaskGroup.list_commands catches every Exception), and so does `flask
        # run --debug` after a reload.  A SystemExit passes through all of them: the line
        # a command would print ("Error: …"), and status 1.
        exc.show()
        raise SystemExit(exc.exit_code) from None


def _under_flask_command() -> bool:
    """Whether the ``flask`` command (its FlaskGroup) is loading the app."""
    import click
    from flask.cli import FlaskGroup

    context = click.get_current_context(silent=True)
    return context is not None and isinstance(context.find_root().command, FlaskGroup)


def _build_app(test_config: dict | None) -> Flask:
    # The instance folder holds the SQLite file, uploads and the development secret key.
    # Flask wants it absolute: a relative one is taken from the current directory.
    instance_path = settings.instance_path((test_config or {}).get("INSTANCE_PATH")
                                           or os.environ.get("UNIONFLOW_INSTANCE_PATH"))
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    _load_config(app, test_config)
    _init_database(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _load_config(app: Flask, test_config: dict | None) -> None:
    env = settings.environment_name(
        (test_config or {}).get("UNIONFLOW_ENV") or os.environ.get("UNIONFLOW_ENV")
        or ("testing" if test_config is not None else "development"), CONFIGS)
    app.config.from_object(CONFIGS[env])
    app.config.update(Config.from_environ(os.environ))
    app.config.from_prefixed_env("UNIONFLOW")
    if test_config:
        app.config.update(test_config)
    app.config["UNIONFLOW_ENV"] = env

    settings.writable_folder("INSTANCE_PATH", app.instance_path)
    uri = app.config.get("SQLALCHEMY_DATABASE_URI") or (
        "sqlite:///" + os.path.join(app.instance_path, "unionflow.db"))
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(uri)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    settings.check(app.config)
    app.config["UPLOAD_FOLDER"] = str(settings.writable_folder(
        "UPLOAD_FOLDER", app.config.get("UPLOAD_FOLDER")
        or Path(app.instance_path) / "uploads").absolute())
    _ensure_secret_key(app, env)
    _check_mail_settings(app, env)


def _check_mail_settings(app: Flask, env: str) -> None:
    """Links in e-mails are made from PUBLIC_URL: in production, one that leads nowhere
    (the default, this machine's own address) stops a server that sends real e-mail from
    starting, and is logged otherwise; so does a MAIL_FROM that is not one address."""
    if env != "production":
        return
    sends_mail = app.config.get("MAIL_BACKEND") == "smtp"
    if sends_mail:  # every message would fail on it
        from webapp.services.outbox import AddressError, mailbox

        try:
            mailbox(app.config.get("MAIL_FROM") or "")
        except AddressError as exc:
            raise ConfigError(f"UNIONFLOW_MAIL_FROM: {exc}; give one address, with a name "
                               "if wanted: 重庆市总工会 <noreply@union.example.cn>") from None
    problem = public_url_problem(app.config.get("PUBLIC_URL"))
    if problem is None:
        return
    if sends_mail:
        raise ConfigError(f"{problem}: e-mails would link to it. Set UNIONFLOW_PUBLIC_URL to "
                           "the address people open, e.g. https://union.example.cn")
    app.logger.warning("%s: links in e-mails and webhooks will not open for anyone else",
                       problem)


def _ensure_secret_key(app: Flask, env: str) -> None:
    problem = secret_key_problem(app.config.get("SECRET_KEY"))
    if problem is None:
        return
    if env == "production":
        raise ConfigError(f"{problem}: production refuses to start without a real SECRET_KEY "
                           "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    # Development: a random key kept in the instance folder, so sign-ins survive restarts.
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _init_database(app: Flask) -> None:
    from webapp import database
    from webapp.services import activities, training  # noqa: F401  (register record sources)
    # After activities: batches are named and listed in the reader's language.
    from webapp.services import retreat_batches  # noqa: F401
    from webapp.services import audit  # noqa: F401  (seals audit entries at each commit)

    database.init_app(app)


def _init_extensions(app: Flask) -> None:
    from webapp import errors, i18n, labels, logs, notifications, queue, security
    from webapp.auth import login
    from webapp.extensions import bootstrap, csrf, limiter

    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Host and prefix rewrite every link: trusted only where the proxy sets them
        # (and so overwrites what a client sent), by PROXY_FIX_HOST / PROXY_FIX_PREFIX.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1,
                                x_host=int(app.config["PROXY_FIX_HOST"]),
                                x_prefix=int(app.config["PROXY_FIX_PREFIX"]))
    logs.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    i18n.init_app(app)
    login.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    queue.init_app(app)
    labels.init_app(app)
    notifications.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from webapp.extensions import csrf
    from webapp.pagination import IdConverter

    # <int:…> in every route takes only ids the database can hold; others are 404.
    app.url_map.converters["int"] = IdConverter
    from webapp.admin import bp as admin_bp
    from webapp.api import bp as api_bp
    from webapp.auth import bp as auth_bp
    from webapp.definitions import bp as definitions_bp
    from webapp.main import bp as main_bp
    from webapp.processes import bp as processes_bp
    from webapp.retreat import bp as retreat_bp
    from webapp.notifications import bp as notifications_bp
    from webapp.reports import bp as reports_bp
    from webapp.stations import bp as stations_bp
    from webapp.tasks import bp as tasks_bp
    from webapp.training import bp as training_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(processes_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(stations_bp)
    app.register_blueprint(retreat_bp)
    app.register_blueprint(reports_bp, url_prefix="/reports")
    app.register_blueprint(training_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(definitions_bp, url_prefix="/admin/definitions")
    app.register_blueprint(api_bp)
    # Cookies never authenticate the API (only bearer tokens do), so no CSRF token is needed.
    csrf.exempt(api_bp)


def _register_cli(app: Flask) -> None:
    from webapp import cli

    cli.init_app(app)
