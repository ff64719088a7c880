from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, TimeField
from wtforms.validators import EqualTo, InputRequired, Length, Optional


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[InputRequired(_l("请填写当前密码"))],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("新密码"), validators=[
        InputRequired(_l("请填写新密码")), Length(min=8, message=_l("密码至少 8 个字符")),
        Length(max=256, message=_l("密码最多 256 个字符"))],
        description=_l("至少 8 个字符；不要用生日、手机号或别处用过的密码。"),
        render_kw={"autocomplete": "new-password"})
    again = PasswordField(_l("再输入一次新密码"), validators=[
        InputRequired(_l("请再输入一次新密码")), EqualTo("new", _l("两次输入的新密码不一致"))],
        render_kw={"autocomplete": "new-password"})


class NotificationSettingsForm(FlaskForm):
    email_enabled = BooleanField(_l("接收邮件通知"))
    digest_low_priority = BooleanField(_l("一般消息每天汇总成一封邮件（晚上 8 点）"))
    quiet_start = TimeField(_l("免打扰开始"), validators=[Optional()])
    quiet_end = TimeField(_l("免打扰结束"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and (self.quiet_start.data is None) != (self.quiet_end.data is None):
            self.quiet_end.errors.append(_l("请同时填写免打扰的开始和结束时间，或都不填。"))
            ok = False
        return ok
