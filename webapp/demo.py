"""The Chongqing demo: an org tree, stations, a pairing and one user per kind of person.

Running it again changes nothing: every object is looked up by its code or username first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

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
    ("cq-jlp", "九龙坡区总工会", "Jiulongpo District Federation", "district", "cq"),
    ("cq-na", "南岸区总工会", "Nan'an District Federation", "district", "cq"),
    ("cq-yb", "渝北区总工会", "Yubei District Federation", "district", "cq"),
    ("cq-bn", "巴南区总工会", "Banan District Federation", "district", "cq"),
    ("cq-bb", "北碚区总工会", "Beibei District Federation", "district", "cq"),
    ("cq-ddk", "大渡口区总工会", "Dadukou District Federation", "district", "cq"),
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

# (code, name, English name, parent code, address, landmark, hours, water, toilet,
#  microwave, charging piles, car parking, motorcycle parking, open)
STATIONS = [
    ("st-jfb", "解放碑户外劳动者驿站", "Jiefangbei Outdoor Workers' Rest Station",
     "cq-yz-jfb", "渝中区民族路188号", "解放碑步行街东侧",
     "07:00-22:00", True, True, True, 6, 4, 20, True),
    ("st-jck", "较场口工会驿站", "Jiaochangkou Union Rest Station",
     "cq-yz-jfb", "渝中区较场口日月光广场负一楼", "较场口轻轨站",
     "08:00-20:00", True, True, False, 2, 0, 12, True),
    ("st-dp", "大坪爱心驿站", "Daping Caring Rest Station",
     "cq-yz-dp", "渝中区大坪正街118号", "大坪地铁站3号口",
     "00:00-24:00", True, True, True, 10, 8, 30, True),
    ("st-gyq", "观音桥商圈工会驿站", "Guanyinqiao Shopping District Union Rest Station",
     "cq-jb-gyq", "江北区建新北路36号", "观音桥步行街",
     "07:30-21:30", True, True, True, 8, 6, 25, True),
    ("st-bxw", "北城天街骑手之家", "Beicheng Tianjie Riders' Home",
     "cq-jb-gyq", "江北区北城天街9号", "北城天街广场",
     "09:00-21:00", True, False, True, 4, 0, 15, False),
    ("st-xlk", "小龙坎新就业形态劳动者驿站", "Xiaolongkan Gig Workers' Rest Station",
     "cq-spb-xq", "沙坪坝区小龙坎正街265号",
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
        users, roles = _ensure_user(demo, password)
        added["users"] += users
        added["roles"] += roles
    db.session.flush()
    return added


def _ensure_user(demo: DemoUser, password: str) -> tuple[int, int]:
    """The demo person with their roles; (people added, roles added)."""
    user, created = find_user(demo.username), 0
    if user is None:
        user = create_user(demo.username, password, demo.display_name,
                           unit=unit_by_code(demo.home_unit),
                           email=f"{demo.username}@demo.unionflow.cn")
        created = 1
    before = len(user.memberships)
    for role, unit_code in demo.roles:
        grant_role(user, role, unit_by_code(unit_code))
    return created, len(user.memberships) - before


def _ensure_station(code, name, name_en, parent_code, address, landmark, hours, water,
                    toilet, microwave, charging, car, moto, is_open) -> int:
    if unit_by_code(code) is not None:
        return 0
    unit = create_unit(code, name, "station", unit_by_code(parent_code), name_en=name_en)
    district = ancestor_of_kind(unit, "district")
    db.session.add(Station(unit=unit, district_id=district.id if district else None,
                           address=address, landmark=landmark, opening_hours=hours,
                           has_water=water, has_toilet=toilet, has_microwave=microwave,
                           charging_piles=charging, car_parking=car,
                           motorcycle_parking=moto, is_open=is_open))
    return 1


def _ensure_pairing(branch_code: str, station_code: str) -> int:
    branch, station = unit_by_code(branch_code), unit_by_code(station_code)
    # Once the branch has been paired (with this station or, since, another), the
    # pairing is the branch's to keep or end: a second seed adds no period of its own.
    exists = db.session.scalar(select(Pairing.id).where(Pairing.branch_id == branch.id)
                               .limit(1))
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
# Who registered for the running course (username, legal name, occupation, phone, id
# card) and the sessions they missed so far (1-based).
TRAINEES = [("rider1", "马超", "delivery", "13800138000", "500103199003071239", ()),
            ("courier1", "杨洋", "courier", "13900139000", "500103199206114569", (2,))]


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
    from webapp.services.activities import CHINA, create_course, create_slot
    from webapp.services.quotas import allocate_quota

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
                             name_en="2027 model-worker retreat, 1st batch (Xiannüshan, Wulong)",
                             site_en="Xiannüshan Workers' Retreat Centre, Wulong",
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
    for username, real_name, occupation, phone, id_card, missed in TRAINEES:
        user = find_user(username)
        instance = db.session.scalar(select(Instance).where(
            Instance.process_key == "training_registration", Instance.applicant_id == user.id,
            Instance.unique_key == f"course:{course.id}"))
        if instance is None:
            instance = workflow.start_instance("training_registration", user, {
                "course": course.id, "real_name": real_name, "occupation": occupation,
                "occupation_confirmed": True, "phone": phone, "id_card": id_card,
                "motivation": "想多学一门手艺"}, now=when)
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


# ---------------------------------------------------------------- the city at scale

CITY_STATIONS_CSV = Path(__file__).resolve().parent / "demo_data" / "stations.csv"


def seed_city_stations() -> int:
    """The city's other stations (webapp/demo_data/stations.csv), through the CSV importer
    an administrator uses; returns how many were new."""
    from webapp.services.station_import import import_stations

    report = import_stations(CITY_STATIONS_CSV.read_bytes(), None)
    if report.rejected:  # the shipped file is checked by the tests; never half a demo
        raise RuntimeError(f"demo stations rejected: {report.rejected}")
    return len(report.created)


# Party branches beyond the first two, each paired with a station of the CSV file:
# (code, name, English name, district code, station code)
CITY_BRANCHES = [
    ("cq-jlp-branch1", "杨家坪街道第一党支部", "Yangjiaping Street Party Branch No. 1",
     "cq-jlp", "cq-st-jlp-01"),
    ("cq-na-branch1", "南坪街道机关党支部", "Nanping Street Party Branch", "cq-na",
     "cq-st-na-01"),
    ("cq-yb-branch1", "龙头寺社区党支部", "Longtousi Community Party Branch", "cq-yb",
     "cq-st-yb-01"),
]
# Background people who make the pages look lived in (the demo password, like the rest).
CITY_USERS: tuple[DemoUser, ...] = (
    # Workers' demands of 江北区 and 沙坪坝区 are dispatched to these street unions: a
    # responsible unit must have someone to sign for the task.
    DemoUser("admin_gyq", "观音桥街道工会 郑洁", "cq-jb-gyq", (("unit_admin", "cq-jb-gyq"),), ""),
    DemoUser("admin_xlk", "小龙坎街道工会 胡斌", "cq-spb-xq", (("unit_admin", "cq-spb-xq"),), ""),
    DemoUser("head_gyq", "观音桥驿站站长 冉静", "st-gyq", (("station_head", "st-gyq"),), ""),
    DemoUser("head_jlp", "杨家坪驿站站长 谭刚", "cq-st-jlp-01",
             (("station_head", "cq-st-jlp-01"),), ""),
    DemoUser("head_na", "南坪驿站站长 蒋丽", "cq-st-na-01", (("station_head", "cq-st-na-01"),), ""),
    DemoUser("head_yb", "龙头寺驿站站长 邓波", "cq-st-yb-01",
             (("station_head", "cq-st-yb-01"),), ""),
    DemoUser("vol_jlp", "党员志愿者 秦勇", "cq-jlp-branch1", (("volunteer", "cq-jlp-branch1"),), ""),
    DemoUser("vol_na", "党员志愿者 曾燕", "cq-na-branch1", (("volunteer", "cq-na-branch1"),), ""),
    DemoUser("vol_yb", "党员志愿者 彭浩", "cq-yb-branch1", (("volunteer", "cq-yb-branch1"),), ""),
    DemoUser("rider_jlp", "外卖骑手 冯强", "cq-jlp", (("worker", "cq-jlp"),), ""),
    DemoUser("rider_na", "外卖骑手 唐敏", "cq-na", (("worker", "cq-na"),), ""),
    DemoUser("courier_yb", "快递员 罗杰", "cq-yb", (("worker", "cq-yb"),), ""),
    DemoUser("driver_jb", "网约车司机 许峰", "cq-jb-ridehail", (("worker", "cq-jb-ridehail"),), ""),
    DemoUser("rider_yz", "外卖骑手 袁超", "cq-yz-logistics", (("worker", "cq-yz-logistics"),), ""),
    DemoUser("rider_spb", "闪送员 田甜", "cq-spb", (("worker", "cq-spb"),), ""),
)
FULL_CHECK = ["clean", "water", "charging", "medicine", "safety"]
# Duties already served this year: (volunteer, station, days ago, report or None, confirm)
CITY_DUTIES = [
    ("volunteer1", "st-jfb", 40, {"checklist": FULL_CHECK, "hours": "8", "opinions_count": "6",
                                  "opinions": "骑手反映解放碑周边电动车停放点不足，希望增设临时停车区。",
                                  "wishes_lit": "2", "event_held": "y",
                                  "event_summary": "联合律师开展劳动权益法律咨询。"}, True),
    ("volunteer2", "st-gyq", 21, {"checklist": ["clean", "water", "safety"], "hours": "6",
                                  "opinions_count": "3", "opinions": "快递员希望驿站延长开放时间。",
                                  "wishes_lit": "0", "event_held": ""}, True),
    ("vol_jlp", "cq-st-jlp-01", 33, {"checklist": FULL_CHECK, "hours": "8",
                                     "opinions_count": "4", "opinions": "反映杨家坪商圈充电桩排队久。",
                                     "wishes_lit": "1", "event_held": ""}, True),
    ("vol_jlp", "cq-st-jlp-01", 12, {"checklist": ["clean", "water", "charging", "medicine"],
                                     "hours": "7.5", "opinions_count": "2", "wishes_lit": "0",
                                     "event_held": "y", "event_summary": "开展夏季防暑降温送清凉活动。"},
     True),
    ("vol_na", "cq-st-na-01", 8, {"checklist": FULL_CHECK, "hours": "8", "opinions_count": "5",
                                  "opinions": "骑手希望南坪商圈增加如厕点。", "wishes_lit": "1",
                                  "event_held": ""}, False),
]
# Wishes on the wall or waiting to be verified: (worker, station, title, category, story,
# days ago, verified)
CITY_WISHES = [
    ("rider_jlp", "cq-st-jlp-01", "一副防寒手套", "goods", "冬天骑车手冻得发麻，想要一副防水保暖手套。", 3, True),
    ("rider_na", "cq-st-na-01", "学习电动车简单维修", "study", "车子常在路上坏，想学会补胎和换刹车片。", 5, True),
    ("courier_yb", "cq-st-yb-01", "给孩子的课外书", "goods", "孩子上三年级，想给他买几本科普课外书。", 2, True),
    ("driver_jb", "st-gyq", "车载手机支架", "goods", "原来的支架断了，导航时只能拿在手上，不安全。", 6, True),
    ("rider_spb", "st-jfb", "理发服务", "service", "每天跑单到很晚，想在驿站理一次发。", 1, True),
    ("rider_yz", "st-jfb", "一个充电宝", "goods", "手机一天要用好多电，跑单途中经常没电。", 0, False),
]
# Demands: (worker, station, category, description, days ago, how far it went)
CITY_DEMANDS = [
    ("rider_yz", "cq-st-yz-01", "parking", "解放碑写字楼下电动车没有地方停，经常被贴条。", 1, "submitted"),
    ("rider_yz", "cq-st-yz-03", "toilet", "七星岗附近晚上十点后找不到开放的厕所。", 2, "dispatched"),
    ("rider_yz", "st-dp", "charging", "大坪驿站充电桩经常被占满，排队要一个小时。", 5, "acknowledged"),
    ("rider_yz", "cq-st-yz-05", "rest", "两路口一带没有遮阳避雨的地方可以歇脚。", 9, "dispatched"),
    ("rider_yz", "cq-st-yz-02", "parking", "朝天门送餐只能停在很远的地方，来回要走十分钟。", 20, "acknowledged"),
    ("driver_jb", "cq-st-jb-01", "parking", "观音桥商圈网约车临时上下客点太少。", 4, "submitted"),
    ("driver_jb", "cq-st-jb-03", "rights", "平台抽成调整没有提前告知司机。", 16, "submitted"),
    ("rider_spb", "cq-st-spb-02", "charging", "磁器口周边没有公共换电柜。", 3, "submitted"),
    ("rider_spb", "cq-st-spb-03", "rest", "大学城熙街附近希望增设骑手休息点。", 12, "submitted"),
    ("rider_spb", "st-xlk", "other", "小龙坎驿站的饮水机坏了一周没人修。", 25, "submitted"),
]
# Future duty slots at the paired city stations: (station, days ahead, capacity)
CITY_SLOTS = [(code, d, 2) for code in ("cq-st-jlp-01", "cq-st-na-01", "cq-st-yb-01")
              for d in (2, 5, 9, 16)] + [("st-gyq", 12, 3), ("st-jck", 8, 2)]


def seed_city_life(password: str) -> int:
    """Branches, people, served duties, wishes and demands of the city, dated from today.

    Runs the real processes (start, decide, report) with past clocks; a second run finds
    the background people's requests and adds nothing.  Returns how many were added.
    """
    from datetime import datetime, time, timedelta

    from webapp.models import DutySlot, Instance
    from webapp.services.activities import CHINA, create_slot

    added = 0
    for code, name, name_en, district, station in CITY_BRANCHES:
        if unit_by_code(code) is None:
            create_unit(code, name, "branch", unit_by_code(district), name_en=name_en)
            added += 1
        added += _ensure_pairing(code, station)
    for demo in CITY_USERS:
        added += _ensure_user(demo, password)[0]
    db.session.flush()
    today = datetime.now(CHINA).date()
    for code, day, capacity in CITY_SLOTS:
        station = unit_by_code(code)
        starts = datetime.combine(today + timedelta(days=day), time(9), tzinfo=CHINA)
        if not db.session.scalar(select(DutySlot.id).where(DutySlot.station_id == station.id,
                                                           DutySlot.starts_at == starts)):
            create_slot(station, starts, starts + timedelta(hours=8), capacity)
            added += 1
    background = [find_user(u.username).id for u in CITY_USERS]
    if db.session.scalar(select(Instance.id).where(Instance.applicant_id.in_(background))
                         .limit(1)) is not None:
        return added
    now = datetime.now(CHINA)
    for volunteer, code, days_ago, report, confirmed in CITY_DUTIES:
        added += _served_duty(volunteer, code, now - timedelta(days=days_ago), report, confirmed)
    for worker, code, title, category, story, days_ago, verified in CITY_WISHES:
        _wish(worker, code, title, category, story, now - timedelta(days=days_ago, hours=3),
              verified)
        added += 1
    for worker, code, category, text, days_ago, stage in CITY_DEMANDS:
        _demand(worker, code, category, text, now - timedelta(days=days_ago, hours=2), stage)
        added += 1
    added += _nomination_on_notice("rider_yz", now - timedelta(days=1))
    return added


def _nomination_on_notice(username: str, when) -> int:
    """A retreat nomination approved up to the city and now on public notice (公示)."""
    from datetime import timedelta

    from webapp.models import RetreatBatch
    from webapp.services.workflow import start_instance

    batch = db.session.scalar(select(RetreatBatch).order_by(RetreatBatch.id))
    if batch is None:
        return 0
    instance = start_instance("retreat_nomination", find_user(username), {
        "batch": batch.id, "honour": "frontline", "frontline": True, "new_employment": True,
        "id_card": "500103199105123415", "phone": "13800138456", "health_ok": True,
        "deeds": "从事外卖配送六年，雨雪天坚持送餐，两次协助路人送医，获评渝中区优秀骑手。"},
        now=when - timedelta(hours=6))
    for hours_before in (5, 4, 3):  # unit, district, city
        _act(instance, when - timedelta(hours=hours_before), "approve")
    return 1


def _act(instance, now, kind: str, data: dict | None = None) -> None:
    """Fire what is due on the instance at ``now``, then act on its open task as the
    first person it waits for."""
    from webapp.models import Task, TaskAssignee, Timer
    from webapp.services import workflow as wf
    from workflows.runtime import Action

    for timer in db.session.scalars(select(Timer).where(
            Timer.instance_id == instance.id, Timer.status == "pending",
            Timer.fire_at <= now).order_by(Timer.fire_at)).all():
        wf.perform(instance.id, Action("fire", timer=timer.key), None, now=now)
        if timer.status == "pending":
            timer.status, timer.fired_at = "fired", now
    task = db.session.scalar(select(Task).where(Task.instance_id == instance.id,
                                                Task.status == "open", Task.kind != "timer"))
    user_id = db.session.scalar(select(TaskAssignee.user_id).where(
        TaskAssignee.task_id == task.id).order_by(TaskAssignee.user_id))
    wf.perform(instance.id, Action(kind, task=task.key, data=data or {}),
               db.session.get(User, user_id), now=now)


def _served_duty(username, code, day, report, confirmed) -> int:
    from datetime import datetime, time, timedelta

    from webapp.models import DutySlot
    from webapp.services.activities import CHINA, create_slot
    from webapp.services.workflow import start_instance

    station = unit_by_code(code)
    # Early in January "40 days ago" is last year; the demo wants this year's progress.
    start_of_year = datetime(datetime.now(CHINA).year, 1, 1, 9, tzinfo=CHINA)
    starts = max(datetime.combine(day.date(), time(9), tzinfo=CHINA), start_of_year)
    slot = db.session.scalar(select(DutySlot).where(DutySlot.station_id == station.id,
                                                    DutySlot.starts_at == starts))
    if slot is None:
        slot = create_slot(station, starts, starts + timedelta(hours=8), 2)
    instance = start_instance("station_master", find_user(username),
                              {"station": station.id, "slot": slot.id, "phone": "13900139000",
                               "skills": ["policy"]}, now=starts - timedelta(days=6))
    _act(instance, starts + timedelta(minutes=5), "complete", {"arrival_note": "准时到岗"})
    _act(instance, starts + timedelta(hours=8), "complete", report)
    if confirmed:
        _act(instance, starts + timedelta(days=1), "approve",
             {"confirmed_hours": report["hours"]})
    return 1


def _wish(username, code, title, category, story, when, verified) -> None:
    from datetime import timedelta

    from webapp.services.workflow import start_instance

    user = find_user(username)
    data = {"title": title, "category": category, "story": story,
            "station": unit_by_code(code).id, "contact_name": user.display_name.split()[-1],
            "phone": "13800138123"}
    if category == "goods":
        data["budget"] = "60"
    instance = start_instance("micro_wish", user, data, now=when)
    if verified:
        _act(instance, when + timedelta(hours=5), "approve")


def _demand(username, code, category, text, when, stage) -> None:
    from datetime import timedelta

    from webapp.services.workflow import start_instance

    instance = start_instance("worker_demand", find_user(username), {
        "category": category, "station": unit_by_code(code).id, "description": text,
        "phone": "13700137123"}, now=when)
    if stage in ("dispatched", "acknowledged"):
        _act(instance, when + timedelta(hours=20), "approve",
             {"responsible_unit": unit_by_code("cq-yz-jfb").id,
              "dispatch_note": "请尽快核实并答复职工。"})
    if stage == "acknowledged":
        _act(instance, when + timedelta(days=1, hours=4), "complete", {"handler_name": "赵丽"})


def _demo_unit_codes() -> set[str]:
    import csv

    with CITY_STATIONS_CSV.open(encoding="utf-8-sig", newline="") as csv_file:
        csv_codes = {row["code"] for row in csv.DictReader(csv_file)}
    return ({u[0] for u in UNITS} | {s[0] for s in STATIONS} | {b[0] for b in CITY_BRANCHES}
            | csv_codes)


def not_from_demo(limit: int = 5) -> tuple[list[str], list[str]]:
    """Up to ``limit`` codes of units and usernames of people in the database that the demo
    did not make: real data that seeding would mix demo people (and its platform admin
    ``admin``) into."""
    usernames = [u.username for u in USERS + CITY_USERS]
    units = db.session.scalars(select(OrgUnit.code).where(
        OrgUnit.code.not_in(sorted(_demo_unit_codes()))).order_by(OrgUnit.code).limit(limit))
    users = db.session.scalars(select(User.username).where(
        User.username.not_in(usernames)).order_by(User.username).limit(limit))
    return list(units), list(users)
