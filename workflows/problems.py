"""A problem found in a definition: where it is and what is wrong, in plain words.

Every problem is said twice, in English (``message``: the command line, logs,
``str()``) and in Chinese (``message_zh``), so a page shows it in the reader's
language: ``problem.text(locale)``.  Where a message is built from pieces (a step, a
field of a form, a key), the place is a ``Where`` that carries both languages too.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a definition file; ``str()`` gives ``file:line: message`` (English,
    for the command line); ``text(locale)`` the message in a page's language."""

    file: str
    line: int | None
    message: str
    message_zh: str = field(default="", compare=False)

    def text(self, locale: str = "zh") -> str:
        """The message in ``locale`` ("zh…" or "en…"); Chinese unless English is asked."""
        if str(locale).lower().startswith("en") or not self.message_zh:
            return self.message
        return self.message_zh

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Where:
    """A place in a definition, named in both languages ("step 'verify'" / 环节“verify”).

    ``str()`` is the English, so ``f"{where}: ..."`` builds the English message; the
    Chinese one uses ``where.zh``.  An empty place (``Where("", "")``) adds nothing."""

    en: str
    zh: str

    def __str__(self) -> str:
        return self.en

    def then(self, en: str, zh: str) -> "Where":
        """A place inside this one: ``step 'v'`` + ``sla`` → ``step 'v' sla`` / 环节“v”的 sla."""
        if not self.zh:
            return Where(en, zh.lstrip("的 "))
        gap = " " if self.zh[-1].isascii() and not zh[:1].isascii() else ""
        return Where(f"{self.en} {en}".strip(), f"{self.zh}{gap}{zh}")

    def en_colon(self) -> str:
        return f"{self.en}: " if self.en else ""

    def zh_colon(self) -> str:
        return f"{self.zh}：" if self.zh else ""


def step_where(step_id: object) -> Where:
    return Where(f"step '{step_id}'", f"环节“{step_id}”")


class ProblemLog:
    """Collects problems while a definition is read, so all are reported at once."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int | None, message: str, message_zh: str = "") -> None:
        """Log a problem at ``line``: ``message`` in English, ``message_zh`` in Chinese."""
        self.problems.append(Problem(self.file, line, message, message_zh))

    def __bool__(self) -> bool:
        return bool(self.problems)
