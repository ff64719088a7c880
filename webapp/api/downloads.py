"""Downloads for the app: a stored file and a training certificate.

The same service functions as the pages' ``/files/<key>`` and
``/instances/<id>/certificate.pdf`` decide who may have them and serve the bytes with
the same headers; only who the caller is comes from the bearer token here.  Whoever
may not have one gets the 404 of something that does not exist.
"""
from __future__ import annotations

from flask_babel import gettext as _

from webapp.api.http import fail, user
from webapp.api.registry import Binary, route
from webapp.extensions import db
from webapp.models import Instance
from webapp.processes.helpers import file_visible
from webapp.services import training, uploads

# What a file is served as (``uploads.send``): a type the upload check knows, else bytes.
FILE_TYPES = Binary(tuple(sorted(uploads.KNOWN_TYPES)) + ("application/octet-stream",))


@route("/files/<key>", "GET", summary="A stored file named in an instance's data (its "
       "record's url): the bytes, as the page serves them", tag="files",
       responses={200: FILE_TYPES})
def file_download(key: str):
    user()
    stored = uploads.find(key)
    # ``file_visible`` asks about the signed-in person: the token's, under /api/.
    if stored is None or not file_visible(stored):
        fail(404, _("找不到该文件。"))
    return uploads.send(stored) or fail(404, _("找不到该文件。"))


@route("/instances/<int:instance_id>/certificate.pdf", "GET",
       summary="The completion certificate of a training the caller passed (PDF)",
       tag="instances", responses={200: Binary(("application/pdf",))})
def certificate(instance_id: int):
    me = user()
    response = training.certificate_download(db.session.get(Instance, instance_id), me)
    return response or fail(404, _("找不到该证书：只有结业的学员本人可以下载。"))
