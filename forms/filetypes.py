"""The kinds of file people may upload, recognised by their first bytes.

A browser's declared MIME type and the file name are only claims; the bytes decide.
Only types we can recognise are accepted: photos from phones (JPEG, PNG, HEIC, WebP,
GIF) and PDF documents.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Iterable


@dataclass(frozen=True)
class FileType:
    mime: str
    label: str
    extensions: tuple[str, ...]  # the first is the one given to saved names
    matches: Callable[[bytes], bool]
    aliases: tuple[str, ...] = ()  # other MIME names browsers send for it

    @property
    def family(self) -> str:
        """Images are interchangeable claims ("photo.jpg" that is really a PNG is
        common and harmless); anything else must be claimed exactly."""
        return "image" if self.mime.startswith("image/") else self.mime


_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

FILE_TYPES: tuple[FileType, ...] = (
    FileType("image/jpeg", "JPEG", ("jpg", "jpeg", "jpe", "jfif"),
             lambda h: h.startswith(b"\xff\xd8\xff"), ("image/jpg", "image/pjpeg")),
    FileType("image/png", "PNG", ("png",), lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"),
             ("image/x-png",)),
    FileType("image/gif", "GIF", ("gif",), lambda h: h[:6] in (b"GIF87a", b"GIF89a")),
    FileType("image/webp", "WebP", ("webp",),
             lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    FileType("image/heic", "HEIC", ("heic", "heif"),
             lambda h: h[4:8] == b"ftyp" and h[8:12] in _HEIC_BRANDS, ("image/heif",)),
    FileType("application/pdf", "PDF", ("pdf",), lambda h: h.startswith(b"%PDF-"),
             ("application/x-pdf",)),
)

HEAD_SIZE = 16  # enough bytes for every signature above


def sniff(head: bytes) -> FileType | None:
    """The file type whose signature ``head`` (the first bytes) carries, if any."""
    return next((t for t in FILE_TYPES if t.matches(head[:HEAD_SIZE])), None)


def by_mime(mime: str) -> FileType | None:
    """The file type a MIME name (or one of its aliases) stands for."""
    mime = mime.split(";", 1)[0].strip().lower()
    return next((t for t in FILE_TYPES if mime == t.mime or mime in t.aliases), None)


def by_extension(extension: str) -> FileType | None:
    """The file type a file name extension (without the dot) stands for."""
    extension = extension.lower()
    return next((t for t in FILE_TYPES if extension in t.extensions), None)


def allowed_types(accept: Iterable[str]) -> tuple[FileType, ...]:
    """The known types an ``accept`` list ("image/*", "application/pdf", ".pdf") lets
    in; every known type when the list is empty."""
    patterns = [p.strip().lower() for p in accept if p and p.strip()]
    if not patterns:
        return FILE_TYPES
    return tuple(t for t in FILE_TYPES if any(_accepts(p, t) for p in patterns))


def _accepts(pattern: str, file_type: FileType) -> bool:
    if pattern.startswith("."):
        return pattern[1:] in file_type.extensions
    return any(fnmatchcase(m, pattern) for m in (file_type.mime, *file_type.aliases))
