"""The ``file`` kind: photos and documents, checked here, stored by the web layer."""
from __future__ import annotations

from functools import partial
from typing import Any

from forms import messages as M
from forms.filetypes import allowed_types
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError
from forms.registry import register
from forms.uploads import DEFAULT_MAX_SIZE, Upload, receive
from forms.wtf import UploadField
from workflows.fields import FieldSpec


@register
class FileKind(FieldKind):
    """One file (or up to ``max_files``), limited by ``accept`` and ``max_size``.

    The clean value is an ``Upload`` (a list of them when ``max_files`` > 1); the web
    layer stores it and keeps ``Upload.record(key)`` in instance data.
    """

    name = "file"
    required_message = M.REQUIRED_FILE
    json_type_message = M.EXPECTED_FILE

    def max_size(self, spec: FieldSpec) -> int:
        return spec.max_size or DEFAULT_MAX_SIZE

    def make_field(self, spec: FieldSpec, ctx: BuildContext, **options: Any) -> Any:
        reader = partial(receive, accept=spec.accepted, max_size=self.max_size(spec))
        return UploadField(reader=reader, max_files=max(spec.max_files, 1), **options)

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        # The browser's file picker offers only what we accept (images open the camera).
        accepted = allowed_types(spec.accepted)
        return {"accept": ",".join(t.mime for t in accepted)}

    def api_input(self, spec: FieldSpec, value: Any) -> list[Any]:
        # Files come as multipart parts (``files=``), never inside the JSON data.
        if value is not None:
            raise InputError(M.EXPECTED_FILE)
        return []

    def to_json(self, spec: FieldSpec, value: Any) -> Upload | list[Upload] | None:
        uploads = list(value or [])
        if not uploads:
            return None  # as the engine stores "no answer"
        return uploads if spec.max_files > 1 else uploads[0]

    def from_json(self, spec: FieldSpec, value: Any) -> list[Upload]:
        return []  # stored files cannot go back into a file input

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        return {"accept": [t.mime for t in allowed_types(spec.accepted)],
                "max_size": self.max_size(spec), "max_files": max(spec.max_files, 1)}

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        one = {"type": "string", "format": "binary",
               "contentMediaType": ",".join(t.mime for t in allowed_types(spec.accepted))}
        if spec.max_files > 1:
            return {"type": "array", "items": one, "maxItems": spec.max_files}
        return one
