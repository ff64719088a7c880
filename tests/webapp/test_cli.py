"""The command-line tasks: demo data and accounts, both safe to run twice."""
from __future__ import annotations

from sqlalchemy import func, select

from webapp.demo import CITY_USERS, USERS
from webapp.extensions import db
from webapp.models import Instance, Membership, OrgUnit, Pairing, Station, User


def _counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (OrgUnit, Station, Pairing, User, Membership))


def test_seed_demo_creates_the_chongqing_demo_and_is_idempotent(app, runner):
    app.config["DEMO_PASSWORD"] = "demo-pass-2026"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    first = _counts()
    names = {u.username for u in db.session.scalars(select(User))}
    assert names == {u.username for u in USERS + CITY_USERS}
    assert {"渝中区总工会", "江北区总工会", "沙坪坝区总工会", "九龙坡区总工会", "南岸区总工会",
            "渝北区总工会", "巴南区总工会", "北碚区总工会"} <= {
        u.name for u in db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "district"))}
    assert db.session.scalar(select(func.count()).select_from(Station)) >= 66
    # The city's life: the reports and the wall have something to show.
    assert db.session.scalar(select(func.count()).select_from(Instance)) >= 20
    assert first[1] >= 3 and first[2] >= 1

    hash_before = db.session.scalar(select(User.password_hash).where(User.username == "admin"))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "nothing changed" in result.output
    assert _counts() == first
    assert db.session.scalar(select(User.password_hash).where(User.username == "admin")) == hash_before


def test_demo_users_sign_in_with_the_demo_password(app, runner, auth, client):
    app.config["DEMO_PASSWORD"] = "demo-pass-2026"
    runner.invoke(args=["seed-demo"])
    assert auth.login("rider1", "demo-pass-2026").status_code == 302


def test_seed_demo_without_password_generates_and_prints_one(app, runner):
    app.config["DEMO_PASSWORD"] = None
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    password = result.output.strip().rsplit(": ", 1)[1]
    again = runner.invoke(args=["seed-demo"])
    assert again.output.strip().endswith(password)  # the same one, every time
    user = db.session.scalar(select(User).where(User.username == "admin"))
    assert user.check_password(password)


def test_seed_demo_refuses_a_weak_password(app, runner):
    app.config["DEMO_PASSWORD"] = "123"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "at least 8" in result.output
    assert _counts()[3] == 0


def test_create_user_with_role_then_again_changes_nothing(app, runner, org):
    args = ["create-user", "li_admin", "--name", "李管理", "--role", "unit_admin",
            "--unit", "cq-yz-jfb", "--password", "s3cret-pass"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "li_admin"))
    assert user.roles == {"unit_admin"} and user.check_password("s3cret-pass")
    before = _counts()
    result = runner.invoke(args=args[:-1] + ["other-pass-99"])
    assert result.exit_code == 0 and "already exists" in result.output
    assert _counts() == before
    db.session.expire_all()
    assert user.check_password("s3cret-pass")


def test_create_user_explains_bad_input(app, runner, org):
    bad = runner.invoke(args=["create-user", "x y", "--password", "long-enough-1"])
    assert bad.exit_code != 0 and "username" in bad.output
    bad = runner.invoke(args=["create-user", "someone", "--role", "unit_admin",
                              "--unit", "nowhere", "--password", "long-enough-1"])
    assert bad.exit_code != 0 and "no unit" in bad.output
    bad = runner.invoke(args=["create-user", "someone", "--password", "short"])
    assert bad.exit_code != 0 and "at least 8" in bad.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_seed_demo_refuses_a_database_with_real_people_unless_forced(app, runner, make_user):
    make_user("zhang_real")
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code == 1
    assert "real data (user zhang_real…)" in refused.output and "--force" in refused.output
    from webapp.services.users import find_user

    assert find_user("admin") is None  # nothing was seeded
    forced = runner.invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
    assert find_user("admin") is not None


def test_seed_demo_refuses_real_units_and_production(app, runner, make_unit):
    make_unit("gz", "city")
    assert "unit gz" in runner.invoke(args=["seed-demo"]).output
    app.config["UNIONFLOW_ENV"] = "production"
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code == 1 and "in production" in refused.output


def test_first_administrator_on_an_empty_database(app, runner, tmp_path):
    """The message and --help lead from "--role needs --unit" (no units yet) to the import
    of the top unit, and the path they give works."""
    result = runner.invoke(args=["create-user", "boss", "--role", "platform_admin",
                                 "--password", "long-enough-1"])
    assert result.exit_code == 1 and "flask people import units.csv" in result.output
    assert "people import units.csv" in runner.invoke(args=["create-user", "--help"]).output
    units = tmp_path / "units.csv"
    units.write_text("code,name,kind,parent\ncq,重庆市总工会,city,\n", encoding="utf-8")
    assert runner.invoke(args=["people", "import", str(units)]).exit_code == 0
    result = runner.invoke(args=["create-user", "boss", "--role", "platform_admin",
                                 "--unit", "cq", "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    assert "Granted platform_admin at cq." in result.output
