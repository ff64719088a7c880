from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, TimeField
from wtforms.validators import Optional


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
