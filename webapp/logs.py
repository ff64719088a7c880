"""Logging: the app's messages at INFO unless the operator configured logging, and an
id for every request that the person can quote and the operator can find in the log."""
from __future__ import annotations

import logging
import re
import secrets

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the proxy in front (nginx's $request_id is 32 hex digits) is kept if it is
# short and plain; anything else (a header a client made up) is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id() -> str | None:
    """This request's id (made on first use), or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = (incoming if SANE_REQUEST_ID.fullmatch(incoming)
                        else secrets.token_hex(16))
    return g.request_id


def configure(app: Flask) -> None:
    """INFO for the app's logger, where nobody decided otherwise.  Under gunicorn its
    handlers (and --log-level) are used, so the lines look like its own; a logging
    configuration of the operator's (root handlers, a level set) is left alone."""
    logger = app.logger
    gunicorn = logging.getLogger("gunicorn.error")
    if gunicorn.handlers and not logging.getLogger().handlers:
        logger.handlers = list(gunicorn.handlers)
        logger.setLevel(gunicorn.level or logging.INFO)
        logger.propagate = False
    elif logger.level == logging.NOTSET and not logging.getLogger().handlers:
        logger.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    configure(app)

    @app.after_request
    def _tell_request_id(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response
