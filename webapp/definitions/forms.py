from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import TextAreaField


class SourceForm(FlaskForm):
    """The definition text; its checks are the engine's (services.definitions.check)."""

    source = TextAreaField(_l("流程定义（YAML）"))
    upload = FileField(_l("或从文件载入（UTF-8 编码的 .yaml 文件）"))


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
