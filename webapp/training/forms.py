"""Forms for running courses: the course itself and one session of its timetable."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

OCCUPATION_CHOICES = [SelectChoice(value, label) for value, label in (
    ("delivery", _l("外卖配送员")), ("courier", _l("快递员")), ("ride_hailing", _l("网约车司机")),
    ("trucker", _l("货车司机")), ("other", _l("其他从业人员")))]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _clean(value):
    return value.strip() if isinstance(value, str) else value


class CourseForm(FlaskForm):
    title = StringField(_l("课程名称"), filters=[_clean], validators=[
        InputRequired(_l("请填写课程名称")), Length(max=100, message=_l("最多 100 个字"))])
    kind = StringField(_l("培训类别"), filters=[_clean], validators=[
        InputRequired(_l("请填写培训类别，如 电工、育婴")),
        Length(max=30, message=_l("最多 30 个字"))])
    unit = SelectField(_l("主办单位"), coerce=int, validate_choice=True,
                       validators=[InputRequired(_l("请选择主办单位"))])
    venue = StringField(_l("上课地点"), filters=[_clean], validators=[
        InputRequired(_l("请填写上课地点")), Length(max=200, message=_l("最多 200 个字"))])
    capacity = IntegerField(_l("招收人数"), validators=[
        InputRequired(_l("请填写招收人数")), NumberRange(1, 1000, _l("招收人数应在 1 到 1000 之间"))])
    sessions = IntegerField(_l("计划课次"), default=1, validators=[
        InputRequired(_l("请填写计划课次")), NumberRange(1, 200, _l("课次应在 1 到 200 之间"))],
        description=_l("排好课表后按课表的课次计算。"))
    opens_on = DateField(_l("报名开始日期"), validators=[InputRequired(_l("请选择日期"))])
    closes_on = DateField(_l("报名截止日期"), validators=[InputRequired(_l("请选择日期"))])
    starts_on = DateField(_l("开课日期"), validators=[InputRequired(_l("请选择日期"))])
    ends_on = DateField(_l("结课日期"), validators=[InputRequired(_l("请选择日期"))])
    requires_approval = BooleanField(_l("报名需要审核"))
    occupations = CheckboxesField(_l("面向职业（不选则不限）"), choices=OCCUPATION_CHOICES)
    min_age = IntegerField(_l("最低年龄"), validators=[
        Optional(), NumberRange(14, 100, _l("年龄应在 14 到 100 之间"))])
    max_age = IntegerField(_l("最高年龄"), validators=[
        Optional(), NumberRange(14, 100, _l("年龄应在 14 到 100 之间"))])
    description = TextAreaField(_l("课程介绍"), filters=[_clean], validators=[
        Optional(), Length(max=2000, message=_l("最多 2000 个字"))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        if self.closes_on.data < self.opens_on.data:
            self.closes_on.errors.append(_l("报名截止日期不能早于开始日期"))
        if self.ends_on.data < self.starts_on.data:
            self.ends_on.errors.append(_l("结课日期不能早于开课日期"))
        if self.closes_on.data > self.ends_on.data:
            self.closes_on.errors.append(_l("报名应在结课之前截止"))
        if (self.min_age.data is not None and self.max_age.data is not None
                and self.min_age.data > self.max_age.data):
            self.max_age.errors.append(_l("最高年龄不能小于最低年龄"))
        return not any(field.errors for field in self)

    def course_fields(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "title", "kind", "venue", "capacity", "sessions", "opens_on", "closes_on",
            "starts_on", "ends_on", "requires_approval", "occupations", "min_age", "max_age")} | {
            "description": self.description.data or ""}


class SessionForm(FlaskForm):
    day = DateField(_l("上课日期"), validators=[InputRequired(_l("请选择日期"))])
    starts = TimeField(_l("开始时间"), validators=[InputRequired(_l("请填写开始时间"))])
    ends = TimeField(_l("结束时间"), validators=[InputRequired(_l("请填写结束时间"))])
    topic = StringField(_l("内容"), filters=[_clean], validators=[
        Optional(), Length(max=100, message=_l("最多 100 个字"))])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.ends.data <= self.starts.data:
            self.ends.errors.append(_l("结束时间应晚于开始时间"))
            return False
        return ok


class CorrectionForm(FlaskForm):
    """Correcting a decided trainee's result: the result it should be and why (their
    marks in the register come as ``present`` checkboxes beside it)."""

    outcome = RadioField(_l("更正后的结果"), choices=[
        SelectChoice("passed", _l("结业（可下载证书）")),
        SelectChoice("failed", _l("未结业（出勤不足）"))],
        validators=[InputRequired(_l("请选择更正后的结果"))])
    reason = TextAreaField(_l("更正原因"), filters=[_clean], validators=[
        DataRequired(_l("请填写更正原因，学员会收到")),
        Length(max=500, message=_l("最多 500 个字"))])
    version = HiddenField()
