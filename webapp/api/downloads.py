"""Downloads for the app: a stored file and a training certificate.

The same service functions as the pages' ``/files/<key>`` and
``/instances/<id>/certificate.pdf`` decide who may have them and serve the bytes with
the same headers; only who the caller is comes from the bearer token here.  Whoever
may not have one gets the 404 of something that does not exist — but a certificate
withdrawn (the result corrected to not completed) is 410, saying so, to those who could
have had it: the trainee and the administrators over the request or the course.
"""
from __future__ import annotations

from flask_babel import gettext as _

from webapp.api.http import fail, user
from webapp.api.registry import Binary, route
from webapp.extensions import db
from webapp.models import Instance
from webapp.processes.helpers import file_visible
from webapp.services import training, uploads
from webapp.services.activities import CHINA

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
       summary="The completion certificate of a training registration (PDF): the "
       "trainee's, or one the caller administers (the trainee's unit or the course in "
       "their scope; read-only)",
       tag="instances", responses={200: Binary(("application/pdf",))}, errors=(410,))
def certificate(instance_id: int):
    me = user()
    instance = db.session.get(Instance, instance_id)
    response = training.certificate_download(instance, me)
    if response is not None:
        return response
    withdrawn = training.certificate_withdrawal(instance, me)
    if withdrawn is not None:  # issued once, since withdrawn by a correction: 410
        fail(410, _("结业证书 %(number)s 已于 %(day)s 作废：结业结果已更正（%(reason)s）。",
                    number=withdrawn.number, day=withdrawn.at.astimezone(CHINA)
                    .strftime("%Y-%m-%d"), reason=withdrawn.reason or ""),
             code="certificate_withdrawn")
    return fail(404, _("找不到该证书：只有结业的学员本人和负责的管理员可以下载。"))
