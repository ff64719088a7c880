"""Chinese first, English when a person asks for it — and no string left untranslated."""
from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES"


def test_chinese_is_the_default(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录" in page


def test_a_browser_asking_for_english_gets_english(client):
    page = client.get("/auth/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    text = page.get_data(as_text=True)
    assert '<html lang="en">' in text and "Sign in" in text


def test_a_signed_in_person_switches_language_and_it_sticks(app, client, auth, org, make_user):
    make_user("rider1", ("worker", org["company"]))
    auth.login("rider1")
    response = client.post("/auth/locale", data={"locale": "en", "next": "/account"})
    assert response.headers["Location"] == "/account"
    assert "My account" in client.get("/account").get_data(as_text=True)
    # A new device, with a Chinese browser, still shows the person's choice after sign-in.
    other = app.test_client()
    other.post("/auth/login", data={"username": "rider1", "password": "correct-horse-battery"},
               headers={"Accept-Language": "zh-CN"})
    page = other.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "You can" in page and "Worker" in page


def test_a_language_picked_on_the_sign_in_page_carries_into_the_account(
        app, client, auth, org, make_user, monkeypatch):
    from webapp.models import User
    from webapp.extensions import db

    make_user("rider1", ("worker", org["company"]))
    make_user("rider2", ("worker", org["company"]))
    db.session.execute(db.update(User).values(locale="zh_CN"))
    db.session.commit()
    client.post("/auth/locale", data={"locale": "en", "next": "/auth/login"})
    assert "Sign in" in client.get("/auth/login").get_data(as_text=True)
    auth.login("rider1")
    assert "My account" in client.get("/account").get_data(as_text=True)
    assert db.session.scalar(db.select(User.locale).where(User.username == "rider1")) == "en"
    # The next person at this browser sees the sign-in page in that language, but signing
    # in does not change their own saved choice: they did not pick it.
    auth.logout()
    with client.session_transaction() as session:
        session["locale"] = "en"  # as the idle sign-out leaves it
    auth.login("rider2")
    assert "我的账户" in client.get("/account").get_data(as_text=True)
    assert db.session.scalar(db.select(User.locale).where(User.username == "rider2")) == "zh_CN"
    # Nor does a pick made by someone who walked away from the sign-in page a while ago.
    import webapp.auth.login as login_module

    auth.logout()
    client.post("/auth/locale", data={"locale": "en"})
    now = login_module._now()
    monkeypatch.setattr(login_module, "_now", lambda: now + 16 * 60)
    auth.login("rider2")
    assert db.session.scalar(db.select(User.locale).where(User.username == "rider2")) == "zh_CN"


def test_the_welcome_after_sign_in_is_in_the_accounts_language(app, org, make_user):
    """The browser asks for English, the account is Chinese: the page after sign-in —
    its flash too — is Chinese; and the other way round (L1)."""
    from webapp.extensions import db

    make_user("admin1", ("worker", org["company"]), name="平台管理员")
    make_user("rider1", ("worker", org["company"]), name="Ma Chao").locale = "en"
    db.session.commit()
    for username, browser, welcome, other in (("admin1", "en-US", "欢迎，平台管理员。", "Welcome"),
                                              ("rider1", "zh-CN", "Welcome, Ma Chao.", "欢迎")):
        client = app.test_client()
        headers = {"Accept-Language": browser}
        answer = client.post("/auth/login", data={"username": username,
                                                  "password": "correct-horse-battery"},
                             headers=headers)
        assert answer.status_code == 302
        page = unescape(client.get(answer.headers["Location"], headers=headers)
                        .get_data(as_text=True))
        assert welcome in page and other not in page


def test_english_counts_make_no_plural_guesses(app):
    """"1 problem(s) found" reads as a form to fill in: counts are written "Problems
    found: 1", right for any number (L2)."""
    from flask_babel import force_locale, gettext

    with open(CATALOG / "messages.po", "rb") as f:
        guesses = [m.string for m in read_po(f)
                   if m.id and re.search(r"(?<!%)\(s\)", str(m.string))]
    assert not guesses
    with app.test_request_context(), force_locale("en"):
        assert gettext("发现 %(n)s 个问题，改正后才能发布。", n=1) == \
            "Problems found: 1. Fix them before publishing."
        assert gettext("%(n)s 份报告待确认", n=1) == "Reports to confirm: 1"
        assert gettext("已保存 %(n)s 个驿站。", n=1) == "Stations saved: 1."


def test_unknown_locale_is_ignored(client):
    client.post("/auth/locale", data={"locale": "xx"})
    assert "登录" in client.get("/auth/login").get_data(as_text=True)


def _extracted_ids() -> set[str]:
    method_map = [("webapp/**.py", "python"), ("webapp/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
                "ngettext": (1, 2), "_lp": ((1, "c"), 2)}
    ids = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=keywords):
        ids.add((context, message if isinstance(message, str) else message[0]))
    return ids


def test_every_interface_string_has_an_english_translation():
    with open(CATALOG / "messages.po", "rb") as f:
        catalog = read_po(f)
    translated = {(m.context, m.id) for m in catalog if m.id and m.string}
    missing = _extracted_ids() - translated
    assert not missing, f"add English for: {sorted(missing)}"


def test_compiled_catalog_matches_its_source():
    with open(CATALOG / "messages.po", "rb") as f:
        po = {(m.context, m.id): m.string for m in read_po(f) if m.id}
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = {(m.context, m.id): m.string for m in read_mo(f) if m.id}
    assert po == mo, "run: pybabel compile -d webapp/translations"


@pytest.mark.parametrize("path", ["/auth/login", "/no/such/page"])
def test_english_pages_have_no_chinese_left_in_our_strings(client, path):
    text = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    # The language switch names 中文 in Chinese on purpose; nothing else should be Chinese.
    leftover = [ch for ch in text.replace("中文", "") if "\u4e00" <= ch <= "\u9fff"]
    assert not leftover, "".join(leftover)


# English text followed by Chinese punctuation: a full-width colon, list comma, semicolon
# or bracket right after a Latin letter or digit ("Applicant：", "Legal advice、Health").
_MIXED = re.compile(r"[A-Za-z0-9)][：、；（）]")


def _visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("username", ["volunteer1", "station_head", "yuzhong_admin", "admin"])
def test_english_pages_use_english_punctuation(app, runner, client, username):
    """Every page an English reader reaches from the menus, and every request they open
    from them, reads "Applicant: …", "Water: Yes", "Legal advice, Health check-ups"."""
    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.models import User

    app.config["DEMO_PASSWORD"] = "demo-pass-2026"
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    db.session.execute(update(User).values(locale="en"))
    db.session.commit()
    assert client.post("/auth/login", data={"username": username,
                                            "password": "demo-pass-2026"}).status_code == 302
    todo, seen, found = ["/"], set(), []
    while todo and len(seen) < 60:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        html = response.get_data(as_text=True)
        found += [f"{path}: …{m.string[max(0, m.start() - 30):m.end() + 10]}…"
                  for m in _MIXED.finditer(_visible_text(html))]
        for href in re.findall(r'href="(/[^"#?]*)"', html):
            if href not in seen and not href.startswith(("/static", "/auth")) and (
                    href.count("/") <= 2 or href.startswith(("/instances/", "/stations/",
                                                             "/reports/", "/tasks/"))):
                todo.append(href)
    assert len(seen) > 5
    assert not found, "\n".join(found)


def test_the_wish_report_counts_what_was_submitted_not_a_button(app, runner, client):
    from webapp.extensions import db
    from webapp.services.users import find_user

    app.config["DEMO_PASSWORD"] = "demo-pass-2026"
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    find_user("city_admin").locale = "en"
    db.session.commit()
    client.post("/auth/login", data={"username": "city_admin", "password": "demo-pass-2026"})
    header = client.get("/reports/wishes?format=csv").get_data(as_text=True).splitlines()[0]
    assert "Submitted" in header and "Submit," not in header
    assert "Submitted" in client.get("/reports/wishes").get_data(as_text=True)
