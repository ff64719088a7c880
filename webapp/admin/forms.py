from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField


class StationImportForm(FlaskForm):
    file = FileField(_l("CSV 或 XLSX 文件"), validators=[FileRequired(_l("请选择要导入的 CSV 文件"))])
    dry_run = BooleanField(_l("试导入（只检查，不保存）"), default=True)
