"""``flask workflows …``: check and publish definition files, fire due timers."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from webapp.extensions import db

workflows_cli = AppGroup("workflows", help="Check and publish process definitions.")


def _paths(paths: tuple[str, ...]) -> list[Path]:
    from webapp.services.workflow import shipped_definitions

    if not paths:
        return shipped_definitions()
    out = []
    for raw in paths:
        path = Path(raw)
        out.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir()
                   else [path])
    return out


@workflows_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def validate_command(paths):
    """Report every problem of each definition (file:line: message); exit 1 if any."""
    from webapp.services.workflow import validate_text

    failed = 0
    for path in _paths(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"{path}: cannot read: {exc}", err=True)
            failed += 1
            continue
        spec, problems = validate_text(text, str(path))
        for problem in problems:
            click.echo(str(problem), err=True)
        if problems or spec is None:
            failed += 1
        else:
            click.echo(f"{path}: ok ({spec.key}, {len(spec.steps)} steps)")
    if failed:
        raise click.ClickException(f"Definitions with problems: {failed}")


@workflows_cli.command("publish")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def publish_command(paths):
    """Publish definitions (default: the shipped ones); unchanged ones keep their version."""
    from webapp.services.workflow import DefinitionProblems, publish_file

    for path in _paths(paths):
        try:
            published = publish_file(path)
        except DefinitionProblems as exc:
            db.session.rollback()
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(f"{path}: not published") from None
        version = published.version
        state = "published as" if published.created else "unchanged, still"
        click.echo(f"{version.definition.key}: {state} version {version.version}")
    db.session.commit()


@workflows_cli.command("tick")
def tick_command():
    """Fire the timers that are due (reminders, escalations, time-outs)."""
    from webapp.services.workflow import fire_due_timers

    fired = fire_due_timers()
    db.session.commit()
    click.echo(f"Timers fired: {fired}")


@workflows_cli.command("retitle")
@click.option("--dry-run", is_flag=True, help="Count the titles that would change; save nothing.")
def retitle_command(dry_run):
    """Make every request's title again from its data, as a new request gets it: after
    an upgrade that changed how titles are made (e.g. "parking" became "停车难 · …")."""
    from sqlalchemy import select

    from webapp.models import Instance
    from webapp.services.directory import DbDirectory
    from webapp.services.display import english_title, instance_title
    from webapp.services.workflow import spec_of_instance

    directory = DbDirectory()
    changed = seen = 0
    last_id = 0
    while True:  # in batches by id: a city holds hundreds of thousands of requests
        batch = db.session.scalars(select(Instance).where(Instance.id > last_id)
                                   .order_by(Instance.id).limit(500)).all()
        if not batch:
            break
        for instance in batch:
            spec = spec_of_instance(instance)
            data = (instance.state or {}).get("data", {})
            title = instance_title(spec, data, directory) or instance.title
            title_en = english_title(spec, data, title, directory)
            if (title, title_en) != (instance.title, instance.title_en):
                instance.title, instance.title_en = title, title_en
                changed += 1
        seen += len(batch)
        last_id = batch[-1].id
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        db.session.expunge_all()
    click.echo(f"Request titles {'that would change' if dry_run else 'changed'}: "
               f"{changed} of {seen}")
