"""Fixtures for the forms tests: specs from definition snippets, submitting, files.

Forms are tested without an app: a plain ``wtforms.Form`` fed a Werkzeug ``MultiDict``
(what Flask hands a view), and JSON dicts for the API path.  The suite imports test
modules with ``--import-mode=importlib``, so helpers are handed out as fixtures.
"""
from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from forms import build_form_class
from workflows.fields import parse_form

STATIONS = [("1", "解放碑驿站"), ("2", "观音桥驿站"), ("15", "三峡广场驿站")]
SLOTS = [("301", "2025-05-01 上午"), ("302", "2025-05-01 下午")]
UNITS = [("7", "渝中区总工会")]
COURSES = [("40", "电工技能培训")]


def provide_choices(field_spec):
    """Stands in for the web layer's database-backed provider."""
    return {"station": STATIONS, "slot": SLOTS, "org_unit": UNITS,
            "record": COURSES}[field_spec.type]


def make_spec(fields, rules=()):
    """A FormSpec parsed by the engine's own reader, as definitions are."""
    spec, problems = parse_form({"fields": list(fields), "rules": list(rules)})
    assert not problems, problems
    return spec


def one_field(type_, **options):
    """A form with a single field called ``answer``."""
    return make_spec([{"name": "answer", "type": type_, "label": "答案", "label_en": "Answer",
                       **options}])


def submit(spec, data, *, locale="zh_CN", choices=provide_choices, **build):
    """Build a form class, feed it browser input and validate it."""
    form_class = build_form_class(spec, locale=locale, choices=choices, **build)
    formdata = data if isinstance(data, MultiDict) else MultiDict(data)
    form = form_class(formdata=formdata)
    form.validate()
    return form


def upload(content, filename="photo.png", content_type="image/png"):
    """A file as Werkzeug hands it over from a multipart request."""
    return FileStorage(stream=io.BytesIO(content), filename=filename, content_type=content_type)


@pytest.fixture(name="make_spec", scope="session")
def make_spec_fixture():
    return make_spec


@pytest.fixture(name="one_field", scope="session")
def one_field_fixture():
    return one_field


@pytest.fixture(name="submit", scope="session")
def submit_fixture():
    return submit


@pytest.fixture(name="upload", scope="session")
def upload_fixture():
    return upload


@pytest.fixture(scope="session")
def stations():
    """The provider for station, slot and org_unit options."""
    return provide_choices
