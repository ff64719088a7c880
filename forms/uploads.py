"""Reading an uploaded file into a checked ``Upload`` the web layer can store.

The checks happen here, before anything is saved: size (read at most one byte past
the limit), type by content sniffing, agreement between the bytes and what the client
claims (declared MIME type and file name extension), and a safe file name.  Storing the
bytes outside the web root, under a key of its own choosing, is the web layer's job
(``save_uploads``); only the key and a small record go into instance data.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from forms import messages as M
from forms.filetypes import FileType, allowed_types, by_extension, by_mime, sniff
from forms.messages import InputError

DEFAULT_MAX_SIZE = 10 * 1024 * 1024  # a phone photo is 2–6 MB; a scan a little more
MAX_STEM = 80
_NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream"}
_UNKNOWN = object()


@dataclass(frozen=True)
class Upload:
    """One checked upload.

    ``filename`` is safe to show and to offer for download (no path, no control
    characters, the extension of the real type); ``content_type`` comes from the
    bytes, not from the client.  ``content`` holds the bytes.
    """

    filename: str
    content_type: str
    size: int
    content: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def record(self, key: str) -> dict[str, Any]:
        """What instance data keeps once the bytes are stored under ``key``.

        The keys ("key", "name", "mime", "size") are those the engine's own value
        check (``workflows.values``) reads.
        """
        return {"key": key, "name": self.filename, "mime": self.content_type,
                "size": self.size, "sha256": self.sha256}


def receive(obj: Any, *, accept: Iterable[str] = (), max_size: int | None = None
            ) -> Upload | None:
    """A checked ``Upload`` from a file object (Werkzeug ``FileStorage`` or alike).

    None when no file was chosen (browsers send an empty, nameless part).  Raises
    ``InputError`` for anything else that is not an acceptable file.
    """
    if obj is None or (isinstance(obj, str) and not obj.strip()):
        return None
    stream = getattr(obj, "stream", obj)
    if isinstance(obj, (str, bytes, bytearray)) or not callable(getattr(stream, "read", None)):
        raise InputError(M.FILE_NOT_FILE)
    name = _name_text(getattr(obj, "filename", None))
    limit = max_size or DEFAULT_MAX_SIZE
    content = _read(stream, limit + 1)
    if not content:
        if not name:
            return None
        raise InputError(M.FILE_EMPTY)
    if len(content) > limit:
        raise InputError(M.FILE_TOO_LARGE, max=format_size(limit))
    real = _checked_type(content, list(accept))
    if _contradicts(real, _declared(obj), name):
        raise InputError(M.FILE_MISMATCH)
    return Upload(safe_filename(name, real), real.mime, len(content), content)


def _read(stream: Any, limit: int) -> bytes:
    try:
        if callable(getattr(stream, "seek", None)):
            stream.seek(0)
        content = stream.read(limit)
    except (OSError, ValueError, TypeError, AttributeError):
        raise InputError(M.FILE_UNREADABLE) from None
    if not isinstance(content, (bytes, bytearray)):
        raise InputError(M.FILE_NOT_FILE)
    return bytes(content)


def _checked_type(content: bytes, accept: list[str]) -> FileType:
    allowed = allowed_types(accept)
    real = sniff(content)
    if real is None or real not in allowed:
        labels = ", ".join(t.label for t in allowed) or ", ".join(accept)
        raise InputError(M.FILE_TYPE, allowed=labels)
    return real


def _declared(obj: Any) -> str:
    declared = getattr(obj, "mimetype", None) or getattr(obj, "content_type", None)
    return declared.split(";", 1)[0].strip().lower() if isinstance(declared, str) else ""


def _contradicts(real: FileType, declared: str, name: str) -> bool:
    """Whether the client's claims (MIME type, extension) name another kind of file.

    A PDF sent as "photo.png" is refused: whoever views it expects a picture, and
    such mismatches are how disguised files slip through.
    """
    claims: list[Any] = []
    if declared not in _NO_CLAIM:
        claims.append(by_mime(declared) or _UNKNOWN)
    extension = _extension(name)
    if extension:
        claims.append(by_extension(extension) or _UNKNOWN)
    return any(c is _UNKNOWN or c.family != real.family for c in claims)


def _name_text(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8", "replace")
    if not isinstance(raw, str):
        return ""
    return re.split(r"[\\/]", raw)[-1].strip()  # browsers on Windows may send a path


def _extension(name: str) -> str:
    stem = name.lstrip(".")
    return stem.rsplit(".", 1)[1].lower() if "." in stem else ""


def safe_filename(name: str, real: FileType) -> str:
    """A file name safe to show and download, ending in the real type's extension.

    Chinese characters are kept (unlike Werkzeug's ``secure_filename``), anything
    that is not a letter, digit, ``-``, ``_`` or bracket becomes ``_``.
    """
    stem = name.lstrip(".")
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = "".join(ch if ch.isalnum() or ch in "-_()" else "_"
                   for ch in unicodedata.normalize("NFC", stem))
    stem = re.sub(r"_+", "_", stem).strip("._-")[:MAX_STEM] or "upload"
    return f"{stem}.{real.extensions[0]}"


def format_size(size: int) -> str:
    """Bytes as people read them: "10 MB", "500 KB"."""
    for unit, scale in (("MB", 1024 ** 2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} B"


def save_uploads(clean: Mapping[str, Any], save: Callable[[Upload], str]) -> dict[str, Any]:
    """``clean`` with every ``Upload`` stored by ``save`` (which returns its key) and
    replaced by its JSON record, ready to go into instance data."""
    def stored(value: Any) -> Any:
        if isinstance(value, Upload):
            return value.record(save(value))
        if isinstance(value, list):
            return [stored(v) for v in value]
        return value
    return {name: stored(value) for name, value in clean.items()}
