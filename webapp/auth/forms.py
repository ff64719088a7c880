from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请输入用户名")),
                                                   Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("密码"), validators=[InputRequired(_l("请输入密码")),
                                                   Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("在这台设备上保持登录"))
    next = HiddenField()
