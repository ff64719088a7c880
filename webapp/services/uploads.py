"""Storing uploads under the instance folder (never under static/) and linking them to
the instance that holds them, which decides who may download them."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Iterable

from flask import Response, current_app, send_file
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from forms import Upload, save_uploads
from forms.filetypes import FILE_TYPES
from webapp.extensions import db
from webapp.models import StoredFile, User
from webapp.services.export import content_disposition

KNOWN_TYPES = frozenset(t.mime for t in FILE_TYPES)
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def upload_root() -> Path:
    root = Path(current_app.config.get("UPLOAD_FOLDER")
                or Path(current_app.instance_path) / "uploads")
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_of(stored: StoredFile) -> Path:
    # The key is ours (random hex), never the uploader's file name: no path tricks.
    return upload_root() / stored.key[:2] / stored.key


def store(clean: dict[str, Any], uploader: User) -> dict[str, Any]:
    """Save every Upload in ``clean``; returns the data with their JSON records."""
    def save(upload: Upload) -> str:
        key = secrets.token_hex(16)
        stored = StoredFile(key=key, name=upload.filename, mime=upload.content_type,
                            size=upload.size, sha256=upload.sha256, uploaded_by_id=uploader.id)
        target = path_of(stored)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Noted before it is written: if the transaction that would record it does not
        # commit (a refused start, a stale step), the file goes with it.
        db.session.info.setdefault(_WRITTEN, []).append(target)
        target.write_bytes(upload.content)
        db.session.add(stored)
        return key

    return save_uploads(clean, save)


_WRITTEN = "uploads_written"  # session.info: files written in this transaction


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(_WRITTEN, None)  # their rows are saved: the files stay


@event.listens_for(Session, "after_transaction_end")
def _dropped(session: Session, transaction) -> None:
    """A transaction that ended without its commit (rolled back, or the session closed
    by a refusal or an error) takes the files it wrote: no row will ever name them."""
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint: its files belong to the transaction around it
    for path in session.info.pop(_WRITTEN, ()):
        path.unlink(missing_ok=True)


def file_keys(data: Any) -> Iterable[str]:
    """Keys of the stored files referred to anywhere in instance data."""
    if isinstance(data, dict):
        if isinstance(data.get("key"), str) and "sha256" in data:
            yield data["key"]
        for value in data.values():
            yield from file_keys(value)
    elif isinstance(data, list):
        for value in data:
            yield from file_keys(value)


def attach(instance_id: int, data: Any, uploader: User) -> None:
    """Give the instance the files its data names (only the uploader's unattached ones)."""
    keys = list(file_keys(data))
    if not keys:
        return
    for stored in db.session.scalars(select(StoredFile).where(
            StoredFile.key.in_(keys), StoredFile.uploaded_by_id == uploader.id,
            StoredFile.instance_id.is_(None))):
        stored.instance_id = instance_id


def find(key: str) -> StoredFile | None:
    return db.session.scalar(select(StoredFile).where(StoredFile.key == key))


def send(stored: StoredFile) -> Response | None:
    """The file's bytes as the page and the API serve them (None when they are gone):
    whoever may see it has been decided already."""
    path = path_of(stored)
    if not path.exists():
        # The row says it was stored: a lost disk, a restore without the uploads folder,
        # or a web host that does not share UPLOAD_FOLDER with the one that took it.
        current_app.logger.warning("stored file %s is missing on disk at %s", stored.key, path)
        return None
    # Only types the upload check recognises are served as themselves, and only photos
    # a browser shows as pictures inline; anything else is a download of opaque bytes.
    known = stored.mime in KNOWN_TYPES
    response = send_file(path, mimetype=stored.mime if known else "application/octet-stream",
                         max_age=0)
    # The name as we write it, whatever a stored name holds (quotes, CR/LF, a path).
    response.headers["Content-Disposition"] = content_disposition(
        stored.name, fallback="download", inline=stored.mime in INLINE_TYPES)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly, a file runs no script and loads nothing, whatever it contains.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
