"""Settings are checked, and given their types, when the app is built: a value the code
cannot use stops the start with one line naming the variable, the value and what is
expected — not a 500 on the first page, a dead sweeper thread or a failing job later."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from webapp import create_app
from webapp.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env_app(monkeypatch, tmp_path):
    """create_app as the environment would configure it (UNIONFLOW_* variables)."""
    for name in list(os.environ):
        if name.startswith("UNIONFLOW_"):
            monkeypatch.delenv(name)

    def make(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://",
                           "INSTANCE_PATH": str(tmp_path / "instance")})
    return make


@pytest.mark.parametrize("name, value, expected", [
    ("UNIONFLOW_SESSION_IDLE_MINUTES", "2h", "expected a whole number of minutes"),
    ("UNIONFLOW_SESSION_IDLE_MINUTES", "-5", "expected a whole number of minutes"),
    ("UNIONFLOW_PERMANENT_SESSION_LIFETIME", "12h", "expected a whole number of seconds"),
    ("UNIONFLOW_MAX_CONTENT_LENGTH", "10MB", "expected a whole number of bytes"),
    ("UNIONFLOW_API_TOKEN_TTL", "30d", "expected a whole number of seconds"),
    ("UNIONFLOW_STATION_CHOICES_LIMIT", "abc", "expected a whole number of stations"),
    ("UNIONFLOW_STATION_CHOICES_LIMIT", "0", "expected a whole number of stations"),
    ("UNIONFLOW_SWEEP_INTERVAL", "15s", "expected a number of seconds"),
    ("UNIONFLOW_DELIVERY_GROUP", "x", "expected a whole number of deliveries"),
    ("UNIONFLOW_MAIL_USE_TLS", "perhaps", "expected true or false"),
    ("UNIONFLOW_TOKEN_ISSUE_LIMITS", "lots", 'expected rate limits like "30 per hour"'),
    ("UNIONFLOW_MAIL_BACKEND", "smpt", "expected one of smtp, console, file"),
    ("UNIONFLOW_ENV", "prod", "expected one of development, production, testing"),
    ("REDIS_URL", "redis-host:6379", "expected a URL starting redis://"),
    ("UNIONFLOW_DATABASE_CONNECT_TIMEOUT", "5s", "expected a whole number of seconds (2 or"),
    ("UNIONFLOW_DATABASE_CONNECT_TIMEOUT", "1", "expected a whole number of seconds (2 or"),
])
def test_a_value_the_code_cannot_use_stops_the_start_with_one_clear_line(
        env_app, name, value, expected):
    with pytest.raises(ConfigError) as caught:
        env_app(**{name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value}: ") and expected in message
    assert "\n" not in message


@pytest.mark.parametrize("value, expected", [
    ("False", False), ("false", False), ("0", False), ("no", False),
    ("True", True), ("1", True), ("yes", True)])
def test_booleans_read_as_people_write_them(env_app, value, expected):
    assert env_app(UNIONFLOW_MAIL_USE_TLS=value).config["MAIL_USE_TLS"] is expected


def test_values_are_given_the_type_the_code_reads(env_app):
    app = env_app(UNIONFLOW_SESSION_IDLE_MINUTES="30", UNIONFLOW_PERMANENT_SESSION_LIFETIME="3600",
                  UNIONFLOW_API_TOKEN_TTL="86400", UNIONFLOW_SWEEP_INTERVAL="2.5",
                  UNIONFLOW_TOKEN_ISSUE_LIMITS="50 per hour", UNIONFLOW_MAIL_BACKEND="SMTP",
                  UNIONFLOW_LOGIN_FAILURE_LIMITS='["5 per minute", "20 per hour"]',
                  UNIONFLOW_DATABASE_CONNECT_TIMEOUT=" 10")
    config = app.config
    assert config["DATABASE_CONNECT_TIMEOUT"] == 10
    assert config["SESSION_IDLE_MINUTES"] == 30
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)
    assert config["API_TOKEN_TTL"] == timedelta(days=1)
    assert config["SWEEP_INTERVAL"] == 2.5
    # One limit as a plain string is one limit, not a list of its characters.
    assert config["TOKEN_ISSUE_LIMITS"] == ("50 per hour",)
    assert config["LOGIN_FAILURE_LIMITS"] == ("5 per minute", "20 per hour")
    # A typo in case no longer sends real mail to files and marks it sent.
    assert config["MAIL_BACKEND"] == "smtp"


def test_a_relative_instance_path_is_taken_from_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNIONFLOW_INSTANCE_PATH", "var/uf")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.instance_path == str(tmp_path / "var" / "uf")
    assert (tmp_path / "var" / "uf").is_dir()


def test_a_database_url_in_an_error_never_shows_its_password(env_app):
    with pytest.raises(ConfigError) as caught:
        env_app(REDIS_URL="http://user:s3cret@redis-host:6379")
    assert "s3cret" not in str(caught.value) and "REDIS_URL=" in str(caught.value)


def _flask(*args, app="webapp", **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("UNIONFLOW_", "FLASK_"))
               and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    environ.update(env)
    where = ["--app", app] if app else []  # none: flask finds wsgi.py in the repository
    return subprocess.run([sys.executable, "-m", "flask", *where, *args],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)


def test_the_flask_command_prints_the_mistake_in_one_line_not_a_traceback(tmp_path):
    done = _flask("routes", UNIONFLOW_SESSION_IDLE_MINUTES="2h",
                  UNIONFLOW_INSTANCE_PATH=str(tmp_path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: UNIONFLOW_SESSION_IDLE_MINUTES=2h: expected a whole number of minutes (0: never)")


@pytest.mark.parametrize("args, app", [
    (["--help"], "webapp"), (["run"], "webapp"), (["db", "upgrade"], "webapp"),
    (["no-such-command"], "webapp"), (["--help"], "webapp:create_app"),
    (["--help"], None), (["routes"], None)])
def test_every_flask_entry_point_prints_the_mistake_in_one_line_and_fails(tmp_path, args, app):
    # Flask's own --help lists the app's commands and, when the factory raises, used to
    # print its traceback, then the help, and exit 0.
    done = _flask(*args, app=app, UNIONFLOW_SESSION_IDLE_MINUTES="2h",
                  UNIONFLOW_INSTANCE_PATH=str(tmp_path))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == [
        "Error: UNIONFLOW_SESSION_IDLE_MINUTES=2h: expected a whole number of minutes (0: never)"]
    assert "Usage:" not in done.stdout


@pytest.mark.parametrize("options, prefix", [
    ([], ""),  # each worker loads the app: it exits, the arbiter stops
    (["--preload"], "Error: "),  # the arbiter loads it before forking (it printed a traceback)
])
def test_gunicorn_stops_on_a_mistake_with_the_message_as_its_last_clear_line(
        tmp_path, options, prefix):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("UNIONFLOW_") and k != "SECRET_KEY"}
    environ.update(UNIONFLOW_INSTANCE_PATH=str(tmp_path), UNIONFLOW_SWEEP_INTERVAL="15s")
    done = subprocess.run([str(Path(sys.executable).with_name("gunicorn")), *options,
                           "-w", "1", "-b", "127.0.0.1:0", "wsgi:app"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if "UnionFlow cannot start" in line]
    assert lines == [prefix + "UnionFlow cannot start: UNIONFLOW_SWEEP_INTERVAL=15s: "
                     "expected a number of seconds, greater than 0 (no unit: 15, not 15s)"]


@pytest.mark.parametrize("args, env, names", [
    (["db", "upgrade"], {"DATABASE_URL": "postgresql://uf:s3cret@127.0.0.1:1/uf"},
     "DATABASE_URL (postgresql+psycopg://uf:***@127.0.0.1:1/uf) does not answer: "),
    (["worker", "--burst"], {"REDIS_URL": "redis://127.0.0.1:1/13"},
     "REDIS_URL (redis://127.0.0.1:1/13) does not answer: "),
    (["queue-check", "--timeout", "1"], {"REDIS_URL": "redis://127.0.0.1:1/13"},
     "REDIS_URL (redis://127.0.0.1:1/13) does not answer: "),
])
def test_a_service_that_does_not_answer_is_named_in_one_line(tmp_path, args, env, names):
    done = _flask(*args, UNIONFLOW_INSTANCE_PATH=str(tmp_path), **env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: " + names) and "refused" in last.lower()


def test_an_upload_folder_that_cannot_be_written_stops_the_start(env_app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"^UNIONFLOW_UPLOAD_FOLDER=.*a-file/uploads: "
                                          r"cannot be created"):
        env_app(UNIONFLOW_UPLOAD_FOLDER=str(blocker / "uploads"))
    with pytest.raises(ConfigError, match=r"UNIONFLOW_UPLOAD_FOLDER=.*: expected a directory"):
        env_app(UNIONFLOW_UPLOAD_FOLDER=str(blocker))
    app = env_app(UNIONFLOW_UPLOAD_FOLDER=str(tmp_path / "new" / "uploads"))
    assert (tmp_path / "new" / "uploads").is_dir()
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "new" / "uploads")


def test_a_stored_file_missing_on_disk_is_logged_with_its_key_and_path(app, make_user, caplog):
    from webapp.extensions import db
    from webapp.models import StoredFile
    from webapp.services import uploads

    owner = make_user("uploader")
    stored = StoredFile(key="ab" + "0" * 30, name="photo.jpg", mime="image/jpeg", size=3,
                        sha256="0" * 64, uploaded_by_id=owner.id)
    db.session.add(stored)
    db.session.commit()
    with caplog.at_level("WARNING"):
        assert uploads.send(stored) is None
    [record] = [r for r in caplog.records if "missing on disk" in r.getMessage()]
    assert stored.key in record.getMessage() and str(uploads.path_of(stored)) in record.getMessage()
