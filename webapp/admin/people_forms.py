"""Forms of the people and units pages (choices of roles and kinds are set per request)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from webapp.services.people_import import EMAIL_RE

LOCALE_CHOICES = [SelectChoice("zh_CN", "简体中文"), SelectChoice("en", "English")]
_PHONE = Regexp(r"^\+?[0-9][0-9 -]{2,19}$", message=_l("请填写有效的电话号码"))
_EMAIL = Regexp(EMAIL_RE, message=_l("请填写有效的邮箱地址"))
_USERNAME = Regexp(r"^[A-Za-z0-9_.-]{3,64}$", message=_l("用户名为 3–64 个字母、数字或 . _ -"))


# A unit field takes a unit code; js/unit-picker.js suggests units by name or code as one
# types ("manage": those the administrator may place people and roles at).
_UNIT_PICKER = {"data-unit-picker": "manage", "autocomplete": "off", "autocapitalize": "none",
                "spellcheck": "false"}


class _Profile(FlaskForm):
    display_name = StringField(_l("姓名"), validators=[InputRequired(_l("请填写姓名")),
                                                     Length(max=100)])
    unit = StringField(_l("所属单位"), validators=[InputRequired(_l("请填写单位编码")),
                                                 Length(max=64)],
                       description=_l("输入单位名称或编码查找并选择，也可以直接填写单位编码。"),
                       render_kw=_UNIT_PICKER)
    phone = StringField(_l("电话"), validators=[Optional(), Length(max=20), _PHONE],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(_l("邮箱"), validators=[Optional(), Length(max=254), _EMAIL],
                        render_kw={"inputmode": "email", "autocomplete": "off"})
    locale = SelectField(_l("界面语言"), choices=LOCALE_CHOICES, default="zh_CN")


# Two messages: a password too long is not one too short.
_PASSWORD_LENGTH = (Length(min=8, message=_l("密码至少 8 个字符")),
                    Length(max=256, message=_l("密码最多 256 个字符")))


class UserCreateForm(_Profile):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请填写用户名")), _USERNAME],
                           render_kw={"autocapitalize": "none", "autocomplete": "off"})
    role = SelectField(_l("在该单位的角色"), choices=[], validate_choice=False)
    password = PasswordField(_l("初始密码"), validators=[Optional(), *_PASSWORD_LENGTH],
                             description=_l("留空则自动生成，只显示一次。"),
                             render_kw={"autocomplete": "new-password"})


class UserEditForm(_Profile):
    pass


class PasswordForm(FlaskForm):
    password = PasswordField(_l("新的临时密码"), validators=[Optional(), *_PASSWORD_LENGTH],
        description=_l("留空则自动生成，只显示一次。"), render_kw={"autocomplete": "new-password"})


class GrantForm(FlaskForm):
    # Ids of their own: the profile form beside it on the same page has a "unit" too, and
    # a label must lead to its own field (a screen reader names the field by it).
    role = SelectField(_l("角色"), choices=[], validate_choice=False, id="grant_role")
    unit = StringField(_l("单位"), validators=[InputRequired(_l("请填写单位编码")),
                                             Length(max=64)], id="grant_unit",
                       description=_l("输入单位名称或编码查找并选择，也可以直接填写单位编码。"),
                       render_kw=_UNIT_PICKER)
    # "1" once the administrator has confirmed a grant that makes one person supervisor
    # and administrator at once (separation of duties); sent by the confirmation only.
    confirm_duties = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class UnitCreateForm(FlaskForm):
    parent = StringField(_l("上级单位编码"), validators=[InputRequired(_l("请填写上级单位编码")),
                                                   Length(max=64)])
    kind = SelectField(_l("类型"), choices=[], validate_choice=False)
    code = StringField(_l("编码"), validators=[InputRequired(_l("请填写编码")), Length(max=64)],
                       render_kw={"autocapitalize": "none"})
    name = StringField(_l("名称"), validators=[InputRequired(_l("请填写名称")), Length(max=200)])
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=200)])


class UnitEditForm(FlaskForm):
    name = StringField(_l("名称"), validators=[InputRequired(_l("请填写名称")), Length(max=200)])
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=200)])


class PeopleImportForm(FlaskForm):
    file = FileField(_l("CSV 或 XLSX 文件"), validators=[FileRequired(_l("请选择要导入的文件"))])


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[InputRequired(), Regexp(r"^[A-Za-z0-9_-]{20,64}$")])
