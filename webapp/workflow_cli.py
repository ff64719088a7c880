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


LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="en",
                    show_default=True, help="Language of the problems reported.")


def _say(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _checked(path: Path, lang: str):
    """The definition's text and the editor's check of it (``definitions.check_file``:
    the engine's problems, units, shared resources, key and names), problems printed as
    ``file:line: message``; None for the text if it cannot be read."""
    from webapp.services.definitions import check_file

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(_say(lang, f"{path}：无法读取：{exc}", f"{path}: cannot read: {exc}"),
                   err=True)
        return None, None
    checked = check_file(text, locale=lang)
    for problem in checked.problems:
        where = f"{path}:{problem.line}" if problem.line else str(path)
        click.echo(f"{where}: {problem.message}", err=True)
    return text, checked


@workflows_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@LANG
def validate_command(paths, lang):
    """Report every problem of each definition (file:line: message), as the editor and
    publish would; exit 1 if any."""
    failed = 0
    for path in _paths(paths):
        text, checked = _checked(path, lang)
        if text is None or not checked.ok:
            failed += 1
        else:
            spec = checked.spec
            click.echo(_say(lang, f"{path}：通过（{spec.key}，{len(spec.steps)} 个环节）",
                            f"{path}: ok ({spec.key}, {len(spec.steps)} steps)"))
    if failed:
        raise click.ClickException(_say(lang, f"有问题的流程定义：{failed} 个",
                                        f"Definitions with problems: {failed}"))


@workflows_cli.command("publish")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@LANG
def publish_command(paths, lang):
    """Publish definitions (default: the shipped ones) after the editor's checks;
    unchanged ones keep their version."""
    from webapp.services.workflow import DefinitionProblems, publish_text

    for path in _paths(paths):
        text, checked = _checked(path, lang)
        try:
            if text is None or not checked.ok:
                raise DefinitionProblems([])
            published = publish_text(text.replace("\r\n", "\n"), str(path))
        except DefinitionProblems as exc:
            db.session.rollback()
            for problem in exc.problems:  # found in the moment since the check
                where = f"{path}:{problem.line}" if problem.line else str(path)
                click.echo(f"{where}: {problem.text(lang)}", err=True)
            raise click.ClickException(_say(lang, f"{path}：未发布", f"{path}: not published")) \
                from None
        version = published.version
        key, number = version.definition.key, version.version
        click.echo(_say(lang, f"{key}：已发布为第 {number} 版" if published.created
                        else f"{key}：未改动，仍为第 {number} 版",
                        f"{key}: published as version {number}" if published.created
                        else f"{key}: unchanged, still version {number}"))
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
