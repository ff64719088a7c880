"""The message catalogue: every message exists in both languages, with the same blanks."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from forms.messages import OUR_MESSAGES, normalise_locale, translate

BLANK = re.compile(r"%\(\w+\)[sd]")


@pytest.mark.parametrize("msgid", OUR_MESSAGES)
def test_every_message_has_chinese_with_the_same_blanks(msgid):
    chinese = translate("zh_CN", msgid)
    assert chinese != msgid, f"no Chinese for {msgid!r}"
    assert re.search(r"[\u4e00-\u9fff]", chinese), chinese
    assert sorted(BLANK.findall(chinese)) == sorted(BLANK.findall(msgid))
    assert translate("en", msgid) == msgid


@pytest.mark.parametrize("locale, expected", [
    ("zh_CN", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans", "zh_CN"), (None, "zh_CN"),
    ("fr", "zh_CN"), ("en", "en"), ("en_US", "en"), ("en-GB", "en"), ("EN", "en"),
])
def test_locales(locale, expected):
    assert normalise_locale(locale) == expected


def test_forms_imports_no_web_code():
    # forms/ must stay usable by the engine's tools and the API alike: no Flask, no app.
    code = ("import sys, forms; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'flask', 'flask_wtf', 'webapp', 'sqlalchemy', 'werkzeug'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], check=True)
    assert result.stdout.strip() == "[]"
