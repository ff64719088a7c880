"""Importing stations from CSV: the report, encodings, scope, the CLI and the upload page."""
from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp import demo as demo_data
from webapp.extensions import db
from webapp.models import Station
from webapp.services.org import unit_by_code
from webapp.services.station_import import COLUMNS, StationFileError, import_stations
from webapp.services.users import find_user

HEADER = "code,name,district,parent,address,landmark,hours,water,toilet,microwave," \
         "charging_piles,car_parking,motorcycle_parking,open\n"


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return (header + "\n".join(rows) + "\n").encode(encoding)


GOOD = "t-1,杨家坪测试驿站,九龙坡区,,九龙坡区杨家坪正街1号,步行街,08:00-20:00,是,有,0,4,2,10,是"


def test_valid_rows_import_and_bad_rows_are_reported_with_line_and_reason(demo):
    data = csv_bytes(
        GOOD,
        ",没有编码的驿站,渝中区,,,,,,,,,,,",
        "t-2,,渝中区,,,,,,,,,,,",
        "t-3,未知区县驿站,火星区,,,,,,,,,,,",
        "t-4,坏数字驿站,江北区,,,,,,,,abc,-1,,",
        "t-1,重复编码驿站,江北区,,,,,,,,,,,",
        "t-5,坏开关驿站,江北区,,,,,也许,,,,,,",
        "cq-yz,编码被占用,渝中区,,,,,,,,,,,",
        "t-6,上级不对,江北区,cq-yz-jfb,,,,,,,,,,",
        "t-7,观音桥第二驿站,江北区总工会,cq-jb-gyq,江北区建新东路2号,,,,,,,,,",
    )
    report = import_stations(data, None)
    db.session.commit()
    assert report.rows == 10 and report.created == ["t-1", "t-7"]
    reasons = {p.line: p.text("zh") for p in report.rejected}
    assert "缺少编码" in reasons[3]
    assert "缺少名称" in reasons[4]
    assert "未知的区县“火星区”" in reasons[5]
    assert "充电桩" in reasons[6] and "汽车车位" in reasons[6] and "abc" in reasons[6]
    assert "编码与第 2 行重复" in reasons[7]
    assert "“是”或“否”" in reasons[8]
    assert "不是驿站" in reasons[9]
    assert "不是江北区总工会下的街道或企业工会" in reasons[10]
    assert "duplicate code (line 2)" in {p.line: p.text("en") for p in report.rejected}[7]
    station = db.session.get(Station, unit_by_code("t-1").id)
    assert (station.district.code, station.has_toilet, station.has_microwave,
            station.charging_piles, station.car_parking, station.is_open) == (
        "cq-jlp", True, False, 4, 2, True)
    assert unit_by_code("t-7").parent.code == "cq-jb-gyq"
    assert unit_by_code("t-3") is None and unit_by_code("t-4") is None


def test_import_again_updates_what_changed_and_counts_the_rest(demo):
    import_stations(csv_bytes(GOOD, "t-9,另一个驿站,渝北区,,,,,,,,,,,"), None)
    db.session.commit()
    changed = GOOD.replace(",0,4,2,10,是", ",0,8,2,10,否")
    report = import_stations(csv_bytes(changed, "t-9,另一个驿站,渝北区,,,,,,,,,,,"), None)
    db.session.commit()
    assert (report.created, report.updated, report.unchanged) == ([], ["t-1"], ["t-9"])
    station = db.session.get(Station, unit_by_code("t-1").id)
    assert station.charging_piles == 8 and not station.is_open
    moved = import_stations(csv_bytes(GOOD.replace("九龙坡区,", "南岸区,")), None)
    assert "不能更改" in moved.rejected[0].text("zh")


def test_a_dry_run_reports_the_same_and_saves_nothing(demo):
    report = import_stations(csv_bytes(GOOD, "t-2,,渝中区,,,,,,,,,,,"), None, dry_run=True)
    db.session.commit()
    assert report.created == ["t-1"] and len(report.rejected) == 1
    assert unit_by_code("t-1") is None


def test_bom_gbk_chinese_headers_and_unreadable_files(demo):
    chinese = "编码,名称,区县,充电桩,备注\n"
    row = "t-gbk,南坪测试驿站,南岸区,3,随便写\n"
    for data, encoding in ((b"\xef\xbb\xbf" + (chinese + row).encode(), "UTF-8 (BOM)"),
                           ((chinese + row).encode("gbk"), "GBK"),
                           ((chinese + row).encode("utf-16"), "UTF-16")):
        report = import_stations(data, None, dry_run=True)
        assert (report.encoding, report.created, report.ignored_columns) == (
            encoding, ["t-gbk"], ["备注"])
    tab = import_stations((chinese + row).replace(",", "\t").encode(), None, dry_run=True)
    assert tab.created == ["t-gbk"]
    for bad, words in ((b"\xff\xfe\x00\xd8" + b"\x00" * 3, "UTF-16"),
                       (b"\x81\x30\x81", "另存为 CSV UTF-8"),
                       (b"", "文件是空的"),
                       ("名称,地址\n甲,乙\n".encode(), "编码（code）")):
        try:
            import_stations(bad, None)
        except StationFileError as exc:
            assert words in exc.zh, exc.zh
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_a_big5_file_is_said_to_be_in_another_encoding(demo):
    """Big5 bytes read as GBK without an error, into nonsense: the message shows the header
    as read and names the likely cause, not only "the header lacks 编码"."""
    data = "編碼,名稱,區縣,充電樁\nt-1,南坪測試驛站,南岸區,3\n".encode("big5")
    try:
        import_stations(data, None)
    except StationFileError as exc:
        assert "编码（code）" in exc.zh and "Big5" in exc.zh and "絪絏" in exc.zh, exc.zh
        assert "Big5" in exc.en and "garbled" in exc.en
    else:
        raise AssertionError("a Big5 file was accepted")


def test_a_city_admin_imports_only_into_their_city(demo, make_unit):
    other_city = make_unit("sc", "city", name="四川省成都市总工会")
    make_unit("sc-jj", "district", other_city, name="锦江区总工会")
    admin = find_user("city_admin")
    report = import_stations(csv_bytes("t-sc,春熙路驿站,锦江区,,,,,,,,,,,", GOOD), admin)
    assert report.created == ["t-1"]
    assert "未知的区县“锦江区”" in report.rejected[0].text("zh")


def test_cli_import_and_dry_run(demo, runner, tmp_path):
    path = tmp_path / "stations.csv"
    path.write_bytes(csv_bytes(GOOD, "t-2,,渝中区,,,,,,,,,,,"))
    dry = runner.invoke(args=["stations", "import", str(path), "--dry-run"])
    assert dry.exit_code == 1 and "Dry run: nothing was saved" in dry.output
    assert "line 3 t-2: missing name" in dry.output
    assert unit_by_code("t-1") is None
    real = runner.invoke(args=["stations", "import", str(path), "--lang", "zh"])
    assert "新增 1" in real.output
    assert "第 3 行 t-2: 缺少名称" in real.output
    db.session.expire_all()
    assert unit_by_code("t-1") is not None
    path.write_bytes(b"\x81\x30\x81")
    broken = runner.invoke(args=["stations", "import", str(path)])
    assert broken.exit_code == 1 and "CSV UTF-8" in broken.output


def test_the_upload_page(login, demo):
    assert login("yuzhong_admin").get("/admin/stations/import").status_code == 403
    client = login("city_admin")
    page = client.get("/admin/stations/import").get_data(as_text=True)
    assert "charging_piles" in page and "试导入" in page
    data = csv_bytes(GOOD, "t-2,,渝中区,,,,,,,,,,,", encoding="gbk")
    dry = client.post("/admin/stations/import", data={
        "file": (io.BytesIO(data), "驿站.csv"), "dry_run": "y"},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "没有保存任何数据" in dry and "新增 1" in dry and "缺少名称" in dry and "GBK" in dry
    assert unit_by_code("t-1") is None
    saved = client.post("/admin/stations/import", data={
        "file": (io.BytesIO(data), "驿站.csv")}, content_type="multipart/form-data")
    assert "已保存 1 个驿站" in saved.get_data(as_text=True)
    db.session.expire_all()
    assert unit_by_code("t-1") is not None
    missing = client.post("/admin/stations/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择要导入的 CSV 文件" in missing.get_data(as_text=True)
    broken = client.post("/admin/stations/import", data={
        "file": (io.BytesIO(b"\x81\x30\x81"), "x.csv")}, content_type="multipart/form-data")
    assert broken.status_code == 422 and "CSV UTF-8" in broken.get_data(as_text=True)
    client.post("/auth/locale", data={"locale": "en"})
    english = client.post("/admin/stations/import", data={
        "file": (io.BytesIO(data), "s.csv"), "dry_run": "y"},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "missing name" in english
    example = client.get("/admin/stations/import/example.csv")
    assert example.data.startswith(b"\xef\xbb\xbfcode,name,name_en,district")


def test_the_city_demo_stations_load_quickly_and_once(demo):
    started = time.perf_counter()
    added = demo_data.seed_city_stations()
    elapsed = time.perf_counter() - started
    db.session.commit()
    print(f"\n64 demo stations through the importer: {elapsed:.2f} s")
    assert added >= 60
    count = db.session.scalar(select(func.count()).select_from(Station))
    assert count == 6 + added
    assert demo_data.seed_city_stations() == 0
    closed = db.session.scalar(select(func.count()).select_from(Station).where(
        Station.is_open.is_(False)))
    assert closed >= 2
    districts = {s.district.name for s in db.session.scalars(select(Station))}
    assert {"渝中区总工会", "九龙坡区总工会", "南岸区总工会", "渝北区总工会", "巴南区总工会",
            "北碚区总工会"} <= districts


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_the_stations_export_imports_back_unchanged(login, demo, locale):
    """The directory's download is the importer's file: edited in a spreadsheet and
    uploaded again, it changes only what was edited (M4)."""
    demo_data.seed_city_stations()  # closed ones, stations directly under a district
    awkward = db.session.get(Station, unit_by_code("st-jfb").id)  # under a street
    awkward.phone, awkward.has_water, awkward.is_open = "+86 23 6380 1234", False, False
    awkward.landmark = "=解放碑"
    db.session.commit()
    client = login("city_admin")
    if locale == "en":
        client.post("/auth/locale", data={"locale": "en"})
    count = db.session.scalar(select(func.count()).select_from(Station))
    for fmt in ("csv", "xlsx"):
        data = client.get(f"/stations?format={fmt}").get_data()
        report = import_stations(data, find_user("city_admin"), dry_run=True)
        assert (report.created, report.updated, report.rejected, report.ignored_columns) == (
            [], [], [], []), (fmt, [p.text("zh") for p in report.rejected])
        assert len(report.unchanged) == report.rows == count
    header = csv.reader(io.StringIO(client.get("/stations?format=csv")
                                    .get_data().decode("utf-8-sig"))).__next__()
    assert header == [c.key if locale == "en" else c.zh for c in COLUMNS]
    # Edited and uploaded through the page: only the edited station is updated.
    text = client.get("/stations?format=csv").get_data().decode("utf-8-sig")
    edited = text.replace("+86 23 6380 1234", "023-6380 1234").encode("utf-8-sig")
    page = client.post("/admin/stations/import", data={
        "file": (io.BytesIO(edited), "stations.csv"), "dry_run": "y"},
        content_type="multipart/form-data").get_data(as_text=True)
    summary = (f"New: 0; updated: 1; unchanged: {count - 1}; rejected: 0" if locale == "en"
               else f"新增 0，更新 1，未变 {count - 1}，退回 0")
    assert summary in page


PHONE_HEADER = HEADER.replace("hours,", "hours,phone,")


def station_row(code: str, hours: str, phone: str) -> str:
    return f"{code},测试驿站{code},九龙坡区,,,,{hours},{phone},是,有,0,4,2,10,是"


def test_impossible_opening_hours_and_phone_numbers_are_refused_per_column(demo):
    data = csv_bytes(station_row("h-1", "25:00-26:00", "023-12345678"),
                     station_row("h-2", "09:00-18:00", "abc"),
                     station_row("h-3", "9点到晚上", "13800138000"),
                     station_row("h-4", "08:00-20:60", "12"),
                     header=PHONE_HEADER)
    report = import_stations(data, None)
    db.session.commit()
    assert report.created == [] and [p.line for p in report.rejected] == [2, 3, 4, 5]
    zh = {p.line: p.text("zh") for p in report.rejected}
    en = {p.line: p.text("en") for p in report.rejected}
    assert zh[2] == "开放时间（hours）中的“25:00”不是有效的时刻（00:00 到 24:00）"
    assert en[2] == "hours: '25:00' is not a time of day (00:00 to 24:00)"
    assert zh[3].startswith("电话（phone）“abc”不是有效的电话号码") and "开放时间" not in zh[3]
    assert en[3].startswith("phone 'abc' is not a phone number")
    assert "开放时间（hours）“9点到晚上”无法识别" in zh[4]
    assert "“20:60”" in zh[5] and "电话" in zh[5]  # both columns' reasons, one row
    assert unit_by_code("h-1") is None and unit_by_code("h-2") is None


@pytest.mark.parametrize("hours, phone", [
    ("09:00-18:00", "023-12345678"), ("全天", "13800138000"), ("24小时", "138 0013 8000"),
    ("00:00-24:00", "023 6380 1234"), ("8:30-21:30", "+86 23 6380 1234"),
    ("08:00-12:00；14:00-18:00", "(023)63801234"), ("周一至周五 09:00-18:00", "63801234"),
    ("22:00-06:00", "023-63801234 / 13800138000"), ("全天开放", "12351"),
    ('"08:00-12:00, 14:00-18:00"', "'02363801234"), ("'09:00-18:00", "400-123-4567"),
])
def test_the_hours_and_numbers_stations_really_publish_are_accepted(demo, hours, phone):
    report = import_stations(csv_bytes(station_row("ok-1", hours, phone),
                                       header=PHONE_HEADER), None, dry_run=True)
    assert report.created == ["ok-1"], [p.text("zh") for p in report.rejected]


def test_every_demo_and_example_station_still_imports():
    """The demo's city file (and so the upload page's example) is real-looking data:
    none of its hours or numbers may be refused."""
    from webapp.services.station_values import hours_problem, phone_problem

    with open(demo_data.CITY_STATIONS_CSV, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert hours_problem(row["hours"]) is None and phone_problem(row["phone"]) is None, row
    for station in demo_data.STATIONS:
        assert hours_problem(station[6]) is None, station


EN_HEADER = HEADER.replace("name,", "name,name_en,", 1)


def test_a_station_s_english_name_is_imported_kept_and_cleared(demo):
    """英文名称 (name_en): what English pages show for the station. A row sets it, an
    empty cell clears it, a file without the column leaves the name saved alone."""
    row = "t-en,杨家坪测试驿站,{en},九龙坡区,,九龙坡区杨家坪正街1号,步行街,08:00-20:00,是,有,0,4,2,10,是"
    report = import_stations(csv_bytes(row.format(en="Yangjiaping Test Station"),
                                       header=EN_HEADER), None)
    db.session.commit()
    assert report.created == ["t-en"]
    assert unit_by_code("t-en").name_en == "Yangjiaping Test Station"
    # An older file (no such column) changes nothing of it.
    report = import_stations(csv_bytes(GOOD.replace("t-1", "t-en")), None)
    db.session.commit()
    assert report.unchanged == ["t-en"] and unit_by_code("t-en").name_en == "Yangjiaping Test Station"
    # Chinese header, a new name: updated, and the audit log says what it was.
    zh_header = EN_HEADER.replace("name_en", "英文名称")
    report = import_stations(csv_bytes(row.format(en="Yangjiaping Riders' Rest"),
                                       header=zh_header), None)
    db.session.commit()
    assert report.updated == ["t-en"] and report.ignored_columns == []
    assert unit_by_code("t-en").name_en == "Yangjiaping Riders' Rest"
    from webapp.models import AuditEntry
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "station.import")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.before["name_en"] == "Yangjiaping Test Station"
    assert entry.after["name_en"] == "Yangjiaping Riders' Rest"
    # An empty cell clears it.
    report = import_stations(csv_bytes(row.format(en=""), header=EN_HEADER), None)
    db.session.commit()
    assert report.updated == ["t-en"] and unit_by_code("t-en").name_en is None
    # Too long is refused with its column named.
    report = import_stations(csv_bytes(row.format(en="x" * 201), header=EN_HEADER), None)
    assert "英文名称（name_en）超过 200 字" in report.rejected[0].text("zh")


def test_english_pages_and_the_download_show_a_station_s_english_name(login, demo):
    demo_data.seed_city_stations()
    db.session.commit()
    client = login("city_admin")
    client.post("/auth/locale", data={"locale": "en"})
    text = client.get("/stations?format=csv").get_data().decode("utf-8-sig")
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["st-jfb"]["name_en"] == "Jiefangbei Outdoor Workers' Rest Station"
    assert rows["cq-st-yz-01"]["name_en"] == "Jiefangbei Pedestrian Street Union Rest Station"
    page = client.get(f"/stations/{unit_by_code('st-jfb').id}").get_data(as_text=True)
    assert "Jiefangbei Outdoor Workers&#39; Rest Station" in page
    found = client.get("/stations?q=jiefangbei outdoor").get_data(as_text=True)
    assert "Jiefangbei Outdoor Workers&#39; Rest Station" in found
