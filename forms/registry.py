"""The registry of field kinds, keyed by the type name a definition uses.

A kind is one small class (see ``forms.kinds.base.FieldKind``); registering it makes
the type usable in web forms, the JSON API and the JSON schema at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from workflows.errors import DefinitionError

if TYPE_CHECKING:
    from forms.kinds.base import FieldKind
    from workflows.fields import FieldSpec

KINDS: dict[str, "FieldKind"] = {}

K = TypeVar("K", bound=type)


def register(cls: K) -> K:
    """Class decorator: add one instance of a kind under its ``name``."""
    KINDS[cls.name] = cls()
    return cls


def kind_of(spec: "FieldSpec") -> "FieldKind":
    """The kind for a field spec; ``DefinitionError`` for a type nobody registered."""
    try:
        return KINDS[spec.type]
    except KeyError:
        raise DefinitionError(
            f"字段 {spec.name} 的类型 {spec.type} 未知",
            f"field {spec.name!r} has unknown type {spec.type!r}") from None
