from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange

CHINA = ZoneInfo("Asia/Shanghai")


class DutySlotForm(FlaskForm):
    day = DateField(_l("值守日期"), validators=[InputRequired(_l("请选择日期"))])
    starts = TimeField(_l("开始时间"), validators=[InputRequired(_l("请填写开始时间"))])
    ends = TimeField(_l("结束时间"), validators=[InputRequired(_l("请填写结束时间"))])
    capacity = IntegerField(_l("名额"), default=2, validators=[
        InputRequired(_l("请填写名额")), NumberRange(1, 20, _l("名额应在 1 到 20 之间"))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        if self.ends.data <= self.starts.data:
            self.ends.errors.append(_l("结束时间应晚于开始时间"))
            return False
        today = datetime.now(CHINA).date()
        if not today < self.day.data <= today + timedelta(days=180):
            self.day.errors.append(_l("请选择明天起半年内的日期"))
            return False
        return True


class CancelSlotForm(FlaskForm):
    """Calling a published slot off: the reason is what each volunteer is told."""

    reason = TextAreaField(_l("取消理由"), validators=[
        InputRequired(_l("请填写取消理由")), Length(max=200, message=_l("取消理由不能超过 200 字"))])


class SlotPlacesForm(FlaskForm):
    capacity = IntegerField(_l("名额"), validators=[
        InputRequired(_l("请填写名额")), NumberRange(1, 20, _l("名额应在 1 到 20 之间"))])
