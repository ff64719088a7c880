"""Chinese first, English second: which language a request is answered in."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, session
from flask_login import current_user

from webapp.extensions import babel


def select_locale() -> str:
    """The signed-in person's choice, else this browser's choice, else zh_CN.

    API calls that send Accept-Language get that language: the app asks for what its
    user chose on the phone."""
    # Each proxy (request, current_user, session) looked up once: every page and API
    # answer asks this several times.
    req = request._get_current_object()
    if req.path.startswith("/api/") and req.accept_languages:
        # An app sends the language its user chose on the phone — when it is one we
        # speak; a phone set to German falls through to the person's own setting.
        asked = _spoken(req)
        if asked is not None:
            return asked
    languages = current_app.config["LANGUAGES"]
    user = current_user._get_current_object()
    if user and user.is_authenticated and user.locale in languages:
        return user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return _from_header(req)


def _from_header(req) -> str:
    return _spoken(req) or "zh_CN"


def _spoken(req) -> str | None:
    """The language of Accept-Language we speak ("en" or "zh_CN": any Chinese variant),
    or None when it asks for neither."""
    best = req.accept_languages.best_match(["zh_CN", "zh", "zh-CN", "en"])
    return None if best is None else "en" if best == "en" else "zh_CN"


def current_locale_short() -> str:
    """"zh" or "en", for the engine's and the vocabulary's two-language labels."""
    return "en" if select_locale() == "en" else "zh"


# Chinese punctuation is full width and takes no space after it; English's is followed by
# one: "申请人：张三" but "Applicant: Zhang San", "法律咨询、健康义诊" but "Legal, Health".
_PUNCTUATION = {"zh": {"colon": "：", "list_sep": "、", "clause_sep": "；", "paren_open": "（",
                       "paren_close": "）"},
                "en": {"colon": ": ", "list_sep": ", ", "clause_sep": "; ", "paren_open": " (",
                       "paren_close": ")"}}


def local_time(at: datetime) -> datetime:
    """``at`` in the installation's time zone (``BABEL_DEFAULT_TIMEZONE``, China time),
    as pages show times; a naive one (SQLite gives UTC back without its offset) is UTC."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(zone)


def punctuation(locale: str) -> dict[str, str]:
    """``locale``'s colon, separators of list items and of clauses, and brackets."""
    return _PUNCTUATION["en" if str(locale).startswith("en") else "zh"]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def locale_context():
        locale = select_locale()
        return {"current_locale": locale, "html_lang": "en" if locale == "en" else "zh-CN",
                "locale_short": "en" if locale == "en" else "zh",
                "tz": ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"]), **punctuation(locale)}
