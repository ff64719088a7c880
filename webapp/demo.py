"""The Chongqing demo: an org tree, stations, a pairing and one user per kind of person.

Running it again changes nothing: every object is looked up by its code or username first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OrgUnit, Pairing, Station, User
from webapp.services.org import ancestor_of_kind, create_unit, unit_by_code
from webapp.services.users import create_user, find_user, grant_role

# (code, name, English name, kind, parent code)
UNITS: list[tuple[str, str, str, str, str | None]] = [
    ("acftu", "中华全国总工会", "All-China Federation of Trade Unions", "federation", None),
    ("cq", "重庆市总工会", "Chongqing Federation of Trade Unions", "city", "acftu"),
    ("cq-yz", "渝中区总工会", "Yuzhong District Federation", "district", "cq"),
    ("cq-jb", "江北区总工会", "Jiangbei District Federation", "district", "cq"),
    ("cq-spb", "沙坪坝区总工会", "Shapingba District Federation", "district", "cq"),
    ("cq-yz-jfb", "解放碑街道工会", "Jiefangbei Street Union", "street", "cq-yz"),
    ("cq-yz-dp", "大坪街道工会", "Daping Street Union", "street", "cq-yz"),
    ("cq-jb-gyq", "观音桥街道工会", "Guanyinqiao Street Union", "street", "cq-jb"),
    ("cq-spb-xq", "小龙坎街道工会", "Xiaolongkan Street Union", "street", "cq-spb"),
    ("cq-yz-logistics", "渝中区快递物流行业工会", "Yuzhong Courier & Logistics Union",
     "enterprise", "cq-yz-jfb"),
    ("cq-jb-ridehail", "江北区网约车行业工会", "Jiangbei Ride-hailing Drivers' Union",
     "enterprise", "cq-jb-gyq"),
    ("cq-yz-jfb-branch1", "解放碑街道机关第一党支部", "Jiefangbei Street Party Branch No. 1",
     "branch", "cq-yz-jfb"),
    ("cq-jb-gyq-branch1", "观音桥街道社区党支部", "Guanyinqiao Community Party Branch",
     "branch", "cq-jb-gyq"),
]

# (code, name, parent code, address, landmark, hours, water, toilet, microwave,
#  charging piles, car parking, motorcycle parking, open)
STATIONS = [
    ("st-jfb", "解放碑户外劳动者驿站", "cq-yz-jfb", "渝中区民族路188号", "解放碑步行街东侧",
     "07:00-22:00", True, True, True, 6, 4, 20, True),
    ("st-jck", "较场口工会驿站", "cq-yz-jfb", "渝中区较场口日月光广场负一楼", "较场口轻轨站",
     "08:00-20:00", True, True, False, 2, 0, 12, True),
    ("st-dp", "大坪爱心驿站", "cq-yz-dp", "渝中区大坪正街118号", "大坪地铁站3号口",
     "00:00-24:00", True, True, True, 10, 8, 30, True),
    ("st-gyq", "观音桥商圈工会驿站", "cq-jb-gyq", "江北区建新北路36号", "观音桥步行街",
     "07:30-21:30", True, True, True, 8, 6, 25, True),
    ("st-bxw", "北城天街骑手之家", "cq-jb-gyq", "江北区北城天街9号", "北城天街广场",
     "09:00-21:00", True, False, True, 4, 0, 15, False),
    ("st-xlk", "小龙坎新就业形态劳动者驿站", "cq-spb-xq", "沙坪坝区小龙坎正街265号",
     "三峡广场西", "08:00-22:00", True, True, False, 0, 2, 18, True),
]

PAIRINGS = [("cq-yz-jfb-branch1", "st-jfb"), ("cq-jb-gyq-branch1", "st-gyq")]


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    home_unit: str
    roles: tuple[tuple[str, str], ...]  # (role, unit code)
    does: str  # for the README and the seed report


USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "平台管理员", "cq", (("platform_admin", "acftu"),),
             "everything: definitions, people, units"),
    DemoUser("city_admin", "市总工会 王芳", "cq", (("city_admin", "cq"),),
             "final approval of retreat nominations, city-wide reports"),
    DemoUser("supervisor", "纪检监督 刘强", "cq", (("supervisor", "cq"),),
             "read-only view of every decision and its audit trail"),
    DemoUser("yuzhong_admin", "渝中区总工会 陈静", "cq-yz", (("district_admin", "cq-yz"),),
             "district approvals and reports for 渝中区"),
    DemoUser("jiangbei_admin", "江北区总工会 周敏", "cq-jb", (("district_admin", "cq-jb"),),
             "district approvals and reports for 江北区"),
    DemoUser("shapingba_admin", "沙坪坝区总工会 吴磊", "cq-spb", (("district_admin", "cq-spb"),),
             "district approvals and reports for 沙坪坝区"),
    DemoUser("unit_admin", "解放碑街道工会 赵丽", "cq-yz-jfb", (("unit_admin", "cq-yz-jfb"),),
             "first approval for the street's unions, dispatches workers' demands"),
    DemoUser("station_head", "解放碑驿站站长 孙伟", "st-jfb", (("station_head", "st-jfb"),),
             "verifies wishes, publishes duty slots, confirms volunteers' hours"),
    DemoUser("branch_secretary", "支部书记 李红", "cq-yz-jfb-branch1",
             (("branch_secretary", "cq-yz-jfb-branch1"), ("volunteer", "cq-yz-jfb-branch1")),
             "runs the branch's station pairing and 五个一 progress"),
    DemoUser("volunteer1", "党员志愿者 张磊", "cq-yz-jfb-branch1",
             (("volunteer", "cq-yz-jfb-branch1"),),
             "signs up as station master for a day, claims micro-wishes"),
    DemoUser("volunteer2", "党员志愿者 黄婷", "cq-jb-gyq-branch1",
             (("volunteer", "cq-jb-gyq-branch1"),),
             "signs up as station master for a day, claims micro-wishes"),
    DemoUser("rider1", "外卖骑手 马超", "cq-yz-logistics", (("worker", "cq-yz-logistics"),),
             "submits micro-wishes and demands, registers for training"),
    DemoUser("courier1", "快递员 杨洋", "cq-yz-logistics", (("worker", "cq-yz-logistics"),),
             "submits micro-wishes and demands, registers for training"),
    DemoUser("driver1", "网约车司机 何军", "cq-jb-ridehail", (("worker", "cq-jb-ridehail"),),
             "submits micro-wishes and demands, registers for training"),
)


def seed(password: str) -> dict[str, int]:
    """Create whatever of the demo is missing; returns how many objects were added."""
    added = {"units": 0, "stations": 0, "pairings": 0, "users": 0, "roles": 0}
    for code, name, name_en, kind, parent_code in UNITS:
        if unit_by_code(code) is None:
            create_unit(code, name, kind, unit_by_code(parent_code) if parent_code else None,
                        name_en=name_en)
            added["units"] += 1
    for row in STATIONS:
        added["stations"] += _ensure_station(*row)
    for branch_code, station_code in PAIRINGS:
        added["pairings"] += _ensure_pairing(branch_code, station_code)
    for demo in USERS:
        user = find_user(demo.username)
        if user is None:
            user = create_user(demo.username, password, demo.display_name,
                               unit=unit_by_code(demo.home_unit),
                               email=f"{demo.username}@demo.unionflow.cn")
            added["users"] += 1
        for role, unit_code in demo.roles:
            before = len(user.memberships)
            grant_role(user, role, unit_by_code(unit_code))
            added["roles"] += len(user.memberships) - before
    db.session.flush()
    return added


def _ensure_station(code, name, parent_code, address, landmark, hours, water, toilet,
                    microwave, charging, car, moto, is_open) -> int:
    if unit_by_code(code) is not None:
        return 0
    unit = create_unit(code, name, "station", unit_by_code(parent_code))
    district = ancestor_of_kind(unit, "district")
    db.session.add(Station(unit=unit, district_id=district.id if district else None,
                           address=address, landmark=landmark, opening_hours=hours,
                           has_water=water, has_toilet=toilet, has_microwave=microwave,
                           charging_piles=charging, car_parking=car,
                           motorcycle_parking=moto, is_open=is_open))
    return 1


def _ensure_pairing(branch_code: str, station_code: str) -> int:
    branch, station = unit_by_code(branch_code), unit_by_code(station_code)
    exists = db.session.scalar(select(Pairing).where(Pairing.branch_id == branch.id,
                                                     Pairing.station_id == station.id))
    if exists:
        return 0
    db.session.add(Pairing(branch=branch, station=station, since=date(2026, 3, 5)))
    return 1


# (title, kind, unit code, venue, sessions, capacity, requires approval, days from today:
#  registration opens, closes, course starts, ends; occupations it is for (none: anyone),
#  (youngest, oldest) age)
COURSES = [
    ("电工技能提升班", "电工", "cq-yz-jfb", "渝中区职工服务中心三楼", 10, 30, False, (-20, 20, 25, 40),
     (), (18, 60)),
    ("育婴员（初级）培训", "育婴", "cq-yz-jfb", "解放碑职工之家", 8, 20, True, (-10, 25, 30, 45),
     (), (18, 55)),
    ("电商直播带货实训", "电商", "cq-yz-jfb", "重庆市职工大学", 6, 40, False, (-5, 30, 35, 42),
     (), (None, None)),
    ("骑手交通安全与应急救护", "安全", "cq-yz-jfb", "解放碑户外劳动者驿站", 2, 25, False, (-3, 10, 12, 13),
     ("delivery", "courier"), (None, None)),
    ("网约车驾驶员安全行车培训", "驾驶安全", "cq-yz-jfb", "渝中区职工服务中心二楼", 3, 30, False,
     (-2, 15, 18, 20), ("ride_hailing",), (21, 60)),
    # Under way: registration closed, half the sessions held, attendance being kept.
    ("外卖快递骑手职业技能提升班", "配送", "cq-yz-jfb", "解放碑户外劳动者驿站", 6, 20, False,
     (-30, -8, -6, 8), ("delivery", "courier"), (None, None)),
]
RUNNING_COURSE = "外卖快递骑手职业技能提升班"
# Who registered for the running course (username, occupation, phone, id card) and the
# sessions they missed so far (1-based).
TRAINEES = [("rider1", "delivery", "13800138000", "500103199003071239", ()),
            ("courier1", "courier", "13900139000", "500103199206114569", (2,))]


def course_schedule(starts, ends, sessions: int, kind: str):
    """Evening classes (19:00-21:00) spread evenly from the first day to the last."""
    from datetime import datetime, time, timedelta

    from webapp.services.activities import CHINA

    span = (ends - starts).days
    out = []
    for i in range(sessions):
        day = starts + timedelta(days=round(i * span / max(sessions - 1, 1)))
        begin = datetime.combine(day, time(19), tzinfo=CHINA)
        out.append((begin, begin + timedelta(hours=2), f"{kind} 第{i + 1}讲"))
    return out


# (station code, days from today, capacity)
SLOTS = [("st-jfb", d, 2) for d in (3, 4, 5, 10, 11)] + [("st-gyq", d, 2) for d in (3, 6, 9)] + [
    ("st-dp", 7, 1)]
# (unit code, amount): city first, then down the tree.
QUOTAS = [("cq", 40), ("cq-yz", 15), ("cq-jb", 12), ("cq-spb", 10), ("cq-yz-jfb", 6),
          ("cq-yz-logistics", 3), ("cq-jb-gyq", 5), ("cq-jb-ridehail", 2)]


def seed_activities(registrations: bool = True) -> int:
    """Courses, duty slots and a retreat batch with quotas, dated from today; with
    ``registrations``, the running course's trainees and the attendance kept so far."""
    from datetime import datetime, time, timedelta

    from webapp.models import Course, DutySlot, RetreatBatch, RetreatQuota
    from webapp.services.activities import CHINA, allocate_quota, create_course, create_slot

    added = 0
    today = datetime.now(CHINA).date()
    for (title, kind, unit, venue, sessions, capacity, approval, days, occupations,
         (youngest, oldest)) in COURSES:
        if db.session.scalar(select(Course).where(Course.title == title)):
            continue
        opens, closes, starts, ends = (today + timedelta(days=d) for d in days)
        create_course(title=title, kind=kind, unit=unit_by_code(unit), venue=venue,
                      capacity=capacity, requires_approval=approval,
                      opens_on=opens, closes_on=closes, starts_on=starts, ends_on=ends,
                      schedule=course_schedule(starts, ends, sessions, kind),
                      occupations=occupations, min_age=youngest, max_age=oldest,
                      description=f"{kind}方向免费技能培训，共 {sessions} 次课。")
        added += 1
    if registrations:
        added += _seed_trainees()
    for code, day, capacity in SLOTS:
        station = unit_by_code(code)
        starts = datetime.combine(today + timedelta(days=day), time(9), tzinfo=CHINA)
        if db.session.scalar(select(DutySlot).where(DutySlot.station_id == station.id,
                                                    DutySlot.starts_at == starts)):
            continue
        create_slot(station, starts, starts + timedelta(hours=8), capacity)
        added += 1
    name = "2027年第一期劳模疗休养（武隆仙女山）"
    batch = db.session.scalar(select(RetreatBatch).where(RetreatBatch.name == name))
    if batch is None:
        batch = RetreatBatch(name=name, site="武隆仙女山职工疗休养基地", capacity=40,
                             starts_on=today + timedelta(days=60),
                             ends_on=today + timedelta(days=65),
                             nominations_close_on=today + timedelta(days=30),
                             owner_unit=unit_by_code("cq"))
        db.session.add(batch)
        db.session.flush()
        added += 1
    for code, amount in QUOTAS:
        unit = unit_by_code(code)
        if not db.session.scalar(select(RetreatQuota).where(RetreatQuota.batch_id == batch.id,
                                                            RetreatQuota.unit_id == unit.id)):
            allocate_quota(batch, unit, amount)
            added += 1
    return added


def _seed_trainees() -> int:
    """Register the demo workers for the running course (as on a day its registration
    was open) and mark the sessions held so far; needs the published definitions."""
    from datetime import datetime, time, timedelta

    from webapp.models import Course, Instance, ProcessDefinition
    from webapp.services import training, workflow
    from webapp.services.activities import CHINA
    from webapp.services.users import find_user

    if db.session.scalar(select(ProcessDefinition).where(
            ProcessDefinition.key == "training_registration")) is None:
        return 0
    course = db.session.scalar(select(Course).where(Course.title == RUNNING_COURSE))
    when = datetime.combine(course.opens_on + timedelta(days=1), time(10), tzinfo=CHINA)
    organiser = find_user("unit_admin")
    added, ticked = 0, set()
    held = training.held_sessions(course)
    for username, occupation, phone, id_card, missed in TRAINEES:
        user = find_user(username)
        instance = db.session.scalar(select(Instance).where(
            Instance.process_key == "training_registration", Instance.applicant_id == user.id,
            Instance.unique_key == f"course:{course.id}"))
        if instance is None:
            instance = workflow.start_instance("training_registration", user, {
                "course": course.id, "occupation": occupation, "phone": phone,
                "id_card": id_card, "motivation": "想多学一门手艺"}, now=when)
            added += 1
        ticked |= {(s.id, instance.id) for n, s in enumerate(held, start=1) if n not in missed}
    if added:
        training.save_register(course, organiser, ticked)
    return added


def publish_processes() -> int:
    """Publish the shipped definitions; returns how many new versions that made."""
    from webapp.services.workflow import publish_file, shipped_definitions

    return sum(publish_file(path).created for path in shipped_definitions())


def demo_user_rows() -> list[tuple[str, str, str]]:
    return [(u.username, u.display_name, u.does) for u in USERS]


__all__ = ["seed", "USERS", "demo_user_rows", "OrgUnit", "User"]
