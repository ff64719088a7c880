"""Chinese first, English second: which language a request is answered in."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, session
from flask_login import current_user

from webapp.extensions import babel


def select_locale() -> str:
    """The signed-in person's choice, else this browser's choice, else zh_CN.

    API calls that send Accept-Language get that language: the app asks for what its
    user chose on the phone."""
    languages = current_app.config["LANGUAGES"]
    if request.path.startswith("/api/") and request.accept_languages:
        return _from_header()  # an app sends the language its user chose on the phone
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return _from_header()


def _from_header() -> str:
    # Any Chinese variant the browser asks for is answered in zh_CN.
    best = request.accept_languages.best_match(["zh_CN", "zh", "zh-CN", "en"], default="zh_CN")
    return "en" if best == "en" else "zh_CN"


def current_locale_short() -> str:
    """"zh" or "en", for the engine's and the vocabulary's two-language labels."""
    return "en" if select_locale() == "en" else "zh"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def locale_context():
        locale = select_locale()
        return {"current_locale": locale, "html_lang": "en" if locale == "en" else "zh-CN",
                "locale_short": "en" if locale == "en" else "zh",
                "tz": ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])}
