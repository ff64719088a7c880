"""Command-line tasks on ``app.cli``: demo data and accounts."""
from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app

from webapp.database import write_lock
from webapp.extensions import db
from webapp.services.org import unit_by_code
from webapp.services.users import UserError, check_password_strength, create_user, find_user, grant_role
from workflows.org import ROLE_KEYS


def _demo_password() -> tuple[str, str]:
    """DEMO_PASSWORD if given; else one generated once and kept in the instance folder."""
    configured = current_app.config.get("DEMO_PASSWORD")
    if configured:
        return configured, "DEMO_PASSWORD"
    path = Path(current_app.instance_path) / "demo-password.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip(), str(path)


@click.command("seed-demo")
@click.option("--force", is_flag=True,
              help="Seed even in production or into a database with real units or people.")
def seed_demo_command(force):
    """Create the Chongqing demo org, stations and users (idempotent).

    Refused in production and on a database holding units or people the demo did not
    make, unless --force: it would add demo people (the platform admin `admin` among
    them, with a shared password) to real data."""
    from webapp import demo

    if not force:
        _refuse_demo_over_real_data(demo)
    password, source = _demo_password()
    try:
        check_password_strength(password)
    except UserError as exc:
        raise click.ClickException(f"DEMO_PASSWORD: {exc}") from exc
    with write_lock():  # SQLite: a web server may be writing at the same time
        added = demo.seed(password)
        added["city stations"] = demo.seed_city_stations()
    added["process versions"] = demo.publish_processes()
    added["courses, slots, batches and quotas"] = demo.seed_activities()
    with write_lock():
        added["branches, people, duties, wishes and demands"] = demo.seed_city_life(password)
    db.session.commit()
    summary = ", ".join(f"{n} {what}" for what, n in added.items())
    click.echo(f"Demo data: added {summary}." if any(added.values())
               else "Demo data already present; nothing changed.")
    click.echo(f"Demo users ({', '.join(u.username for u in demo.USERS)}) sign in with the "
               f"password from {source}: {password}"
               if source != "DEMO_PASSWORD" else
               "Demo users sign in with the password in DEMO_PASSWORD.")


def _refuse_demo_over_real_data(demo) -> None:
    why = ("it adds demo people, the platform administrator `admin` among them, all "
           "signing in with the demo password; --force seeds anyway")
    if current_app.config["UNIONFLOW_ENV"] == "production":
        raise click.ClickException(f"refusing to seed the demo in production: {why}")
    units, users = demo.not_from_demo()
    if units or users:
        found = ", ".join([f"unit {code}" for code in units] + [f"user {name}" for name in users])
        raise click.ClickException(f"refusing to seed the demo into a database with real data "
                                   f"({found}…): {why}")


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name (defaults to username).")
@click.option("--role", type=click.Choice(sorted(ROLE_KEYS)), help="Role to grant.")
@click.option("--unit", "unit_code", help="Code of the unit the role is held at (and home "
              "unit). An empty database has none: make the top one first with `flask "
              "people import units.csv` (a row code,name,kind,parent with an empty parent, "
              "e.g. cq,重庆市总工会,city,).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (asked for when not given).")
def create_user_command(username, display_name, role, unit_code, password):
    """Create an account, or grant an existing one the role; never changes a password.

    The first administrator of an empty database: import the top unit first (`flask
    people import units.csv`, see --unit), then `create-user boss --role platform_admin
    --unit CODE`."""
    with write_lock():
        _create_or_grant(username, display_name, role, unit_code, password)


def _create_or_grant(username, display_name, role, unit_code, password):
    unit = None
    if unit_code:
        unit = unit_by_code(unit_code)
        if unit is None:
            raise click.ClickException(f"no unit with code {unit_code!r}")
    if role and unit is None:
        raise click.ClickException(
            "--role needs --unit, the code of the unit the role is held at. No unit yet? "
            "Make the top one with `flask people import units.csv`, a file with the header "
            "code,name,kind,parent and a row such as cq,重庆市总工会,city, (empty parent), "
            "then: create-user NAME --role platform_admin --unit cq")
    user = find_user(username)
    try:
        if user is None:
            user = create_user(username, password, display_name, unit=unit)
            click.echo(f"Created user {user.username}.")
        else:
            click.echo(f"User {user.username} already exists; password unchanged.")
        if role:
            before = len(user.memberships)
            grant_role(user, role, unit)
            if len(user.memberships) > before:
                click.echo(f"Granted {role} at {unit.code}.")
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option("--fork/--no-fork", default=False, show_default=True,
              help="Run each job in a forked work horse (isolation, at ~10–50 ms of CPU "
                   "per job) or in this process (the default: the jobs are short and ours).")
@click.option("--max-jobs", type=int, default=None,
              help="Exit after this many jobs (a supervisor starts a fresh worker).")
def worker_command(burst, fork, max_jobs):
    """Run an RQ worker (with the scheduler) and the sweep of due timers and lost
    deliveries on REDIS_URL; start as many as you need."""
    from rq import SimpleWorker, Worker

    from webapp.health import require_database, require_redis
    from webapp.queue import runtime, start_sweeper

    rt = runtime()
    if rt.embedded:
        raise click.ClickException("REDIS_URL is not set: without it jobs run inside the web "
                                   "process, and no separate worker is needed")
    require_redis()
    require_database()
    interval = current_app.config.get("SWEEP_INTERVAL")
    if burst:  # one sweep, then the jobs it queued and any others, then exit
        from webapp import jobs

        try:
            jobs.sweep()
        except Exception:  # noqa: BLE001 - the queued jobs still run
            current_app.logger.exception("sweep failed")
    elif interval:
        start_sweeper(current_app._get_current_object(), interval)
    # Set the ORM up once here: with --fork every job runs in a work horse forked from
    # this process, which would otherwise do it again (a few hundred ms per job).
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    # Without fork a job runs in this process: its time limit is still enforced (SIGALRM
    # in the main thread); a crash takes the worker down and the outbox sweeper re-drives
    # what it was sending.  Forking a ~100 MB process per job halved what two web workers
    # could serve on a 2-CPU machine (bench/README.md, "HTTP").
    worker_class = Worker if fork else SimpleWorker
    worker_class([rt.queue()], connection=rt.connection).work(
        with_scheduler=True, burst=burst, max_jobs=max_jobs)


@click.command("queue-check")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a worker.")
def queue_check_command(timeout):
    """Send a ping job on REDIS_URL and wait until a `flask worker` answers it (exits 1
    without REDIS_URL: the embedded queue has no worker outside the web process)."""
    import time

    from webapp import jobs
    from webapp.health import require_redis
    from webapp.queue import enqueue, runtime

    if runtime().embedded:  # its own ping would be answered by a thread of this command
        raise click.ClickException(
            "REDIS_URL is not set: jobs run in the embedded queue inside the web process, "
            "and there is no separate worker to check")
    require_redis()
    token = secrets.token_hex(8)
    enqueue(jobs.ping, token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = runtime().connection.get(f"unionflow:ping:{token}")
        if answered:
            click.echo(f"A worker answered at {answered.decode()}.")
            return
        time.sleep(0.1)
    raise click.ClickException(f"no worker answered within {timeout:g} s — is `flask worker` running?")


@click.command("webhook")
@click.argument("unit_code")
@click.argument("url", required=False)
@click.option("--secret", metavar="SEC…",
              help="The robot's signing secret (DingTalk 加签): messages are signed with "
                   "it. Each run sets the whole hook: without it, messages go unsigned.")
@click.option("--off", is_flag=True, help="Stop posting to this unit's webhook.")
def webhook_command(unit_code, url, secret, off):
    """Post notifications about requests below UNIT_CODE to URL (a WeCom/DingTalk robot)."""
    from urllib.parse import urlsplit

    from sqlalchemy import select

    from webapp.models import UnitWebhook
    from webapp.services import outbox

    unit = unit_by_code(unit_code)
    if unit is None:
        raise click.ClickException(f"no unit with code {unit_code!r}")
    hook = db.session.scalar(select(UnitWebhook).where(UnitWebhook.unit_id == unit.id))
    if off:
        if hook is not None:
            hook.active = False
        db.session.commit()
        outbox.forget_webhooks()
        click.echo(f"{unit.code}: webhook off")
        return
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.ClickException("give an http(s) URL, e.g. https://robot.example/send?key=...")
    if secret is not None and (not secret or len(secret) > 200 or secret != secret.strip()
                               or any(c.isspace() for c in secret)):
        raise click.ClickException("give the secret as the robot shows it: one word "
                                   "(DingTalk's start with SEC), at most 200 characters")
    if hook is None:
        hook = UnitWebhook(unit_id=unit.id, url=url)
        db.session.add(hook)
    hook.url, hook.active, hook.secret = url, True, secret
    db.session.commit()
    outbox.forget_webhooks()
    signed = ", signed with its secret" if secret else ""
    click.echo(f"{unit.code}: notifications about requests below it go to {url}{signed}")


stations_cli = click.Group("stations", help="Rest stations (工会驿站).")


@stations_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; save nothing.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True,
              help="Language of the report.")
def import_stations_command(path, dry_run, lang):
    """Create or update stations from a CSV or XLSX file (columns: docs/stations-csv.md).

    Valid rows are saved, rejected ones reported with their line and reason; exits 1
    when any row was rejected.
    """
    from webapp.services.station_import import StationFileError, import_stations

    data = Path(path).read_bytes()
    try:
        with write_lock():
            report = import_stations(data, None, dry_run=dry_run)
    except StationFileError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message(lang)) from exc
    db.session.commit()
    for line in report_lines(report, lang):
        click.echo(line)
    if report.rejected:
        raise SystemExit(1)


def report_lines(report, lang: str) -> list[str]:
    en = lang == "en"
    head = ("Dry run: nothing was saved. " if en else "试导入：没有保存任何数据。") if report.dry_run else ""
    encoding = report.encoding_text(lang)
    if en:
        lines = [f"{head}Rows read: {report.rows} ({encoding}). New: {len(report.created)}; "
                 f"updated: {len(report.updated)}; unchanged: {len(report.unchanged)}; "
                 f"rejected: {len(report.rejected)} (rejected rows are not saved)."]
    else:
        lines = [f"{head}共读取 {report.rows} 行（{encoding}）：新增 {len(report.created)}，"
                 f"更新 {len(report.updated)}，未变 {len(report.unchanged)}，"
                 f"退回 {len(report.rejected)}（退回的行未保存）。"]
    if report.ignored_columns:
        lines.append(("Ignored columns: " if en else "未识别的列（已忽略）：")
                     + ", ".join(report.ignored_columns))
    for problem in report.rejected:
        where = f"line {problem.line}" if en else f"第 {problem.line} 行"
        lines.append(f"  {where} {problem.code or '-'}: {problem.text(lang)}")
    return lines


people_cli = click.Group("people", help="People and units (人员与单位).")


@people_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; save nothing.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True,
              help="Language of the report.")
def import_people_command(path, dry_run, lang):
    """Create users or units from a CSV or XLSX file (columns: docs/people.md).

    New users' generated passwords are printed once.  Exits 1 when a row was rejected.
    """
    from webapp.services.people_import import ImportFileError, import_people

    data = Path(path).read_bytes()
    try:
        with write_lock():
            report = import_people(data, None, dry_run=dry_run)
    except ImportFileError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message(lang)) from exc
    db.session.commit()
    en = lang == "en"
    what = (report.kind if en else {"users": "人员", "units": "单位"}[report.kind])
    if report.dry_run:
        click.echo(f"Dry run ({what}, {report.format_text(lang)}). Rows: {report.rows}; "
                   f"can be imported: {len(report.accepted)}; rejected: "
                   f"{len(report.rejected)}. Nothing was saved." if en else
                   f"试导入（{what}，{report.format_text(lang)}）：共 {report.rows} 行，可导入 "
                   f"{len(report.accepted)} 行，退回 {len(report.rejected)} 行；未保存。")
    else:
        click.echo(f"Imported ({what}, {report.format_text(lang)}). Rows: {report.rows}; "
                   f"imported: {len(report.accepted)}; rejected: {len(report.rejected)}."
                   if en else
                   f"已导入{what} {len(report.accepted)} 行（共 {report.rows} 行，"
                   f"{report.format_text(lang)}），退回 {len(report.rejected)} 行。")
    for username, password in report.passwords:
        click.echo(f"  {username}\t{password}")
    for problem in report.rejected:
        where = f"row {problem.line}" if en else f"第 {problem.line} 行"
        click.echo(f"  {where} {problem.key or '-'}: {problem.text(lang)}")
    if report.rejected:
        raise SystemExit(1)


audit_cli = click.Group("audit", help="The append-only, hash-chained audit log.")


@audit_cli.command("verify")
@click.option("--anchor", metavar="SEQ:HASH",
              help="An entry's seq and hash written down earlier (as printed by a previous "
                   "run); it must still be in the chain unchanged.")
def audit_verify_command(anchor):
    """Recompute every entry's hash in order; report the first broken link (exit 1)."""
    from webapp.services.audit import verify

    pinned = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected SEQ:HASH, e.g. 120:3f5a…(64 hex digits)",
                                     param_hint="--anchor")
        pinned = (int(seq), digest.lower())
    result = verify(pinned)
    if result.ok:
        head = f"; head {result.head_seq}:{result.head_hash}" if result.head_seq else ""
        click.echo(f"OK: {result.count} audit entries, chain intact{head}")
        return
    where = f"at entry {result.broken_seq}" if result.broken_seq else "outside the chain"
    click.echo(f"BROKEN {where}: {result.problem}", err=True)
    click.echo(f"The first {result.count} entries are intact.", err=True)
    raise SystemExit(1)


calendar_cli = click.Group("calendar", help="Holidays and make-up working days (调休).")


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True,
              help="Language of the messages.")
def import_calendar_command(path, lang):
    """Set the days a file lists, one a line: DATE,休|班[,NAME] (e.g. 2027-02-06,休,春节;
    班 is a make-up working day).  All of them, or none if any line is bad (exit 1)."""
    from flask_babel import force_locale

    from webapp.services import work_calendar

    text = Path(path).read_bytes().decode("utf-8-sig", errors="replace")
    with force_locale("en" if lang == "en" else "zh_CN"):
        try:
            count, problems = work_calendar.import_lines(None, text)
        except work_calendar.CalendarError as exc:
            raise click.ClickException(str(exc)) from exc
        if problems:
            db.session.rollback()
            for p in problems:
                click.echo(f"{path}:{p.line}: {p.message} ({p.text})", err=True)
            raise SystemExit(1)
    db.session.commit()
    work_calendar.forget()
    click.echo(f"{count} days set" if lang == "en" else f"已登记 {count} 天")


@calendar_cli.command("list")
@click.option("--year", type=int, help="The year to list (default: this year).")
def list_calendar_command(year):
    """Print a year's holidays (休) and make-up working days (班)."""
    from datetime import date

    from webapp.services import work_calendar

    for day in work_calendar.days_of(year or date.today().year):
        click.echo(f"{day.day.isoformat()},{'班' if day.working else '休'},{day.name}")


def init_app(app: Flask) -> None:
    from webapp.workflow_cli import workflows_cli

    for command in (seed_demo_command, create_user_command, worker_command, queue_check_command,
                    webhook_command, workflows_cli, stations_cli, audit_cli, people_cli,
                    calendar_cli):
        app.cli.add_command(command)
