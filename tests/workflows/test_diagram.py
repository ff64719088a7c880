"""The SVG diagram: well-formed, escaped, self-contained, current step highlighted."""
from __future__ import annotations

from xml.dom import minidom

import pytest

from workflows.diagram import render_svg
from tests.workflows.conftest import DEFINITIONS

KEYS = ["micro_wish", "retreat_nomination", "station_master", "training_registration",
        "worker_demand"]


@pytest.mark.parametrize("key", KEYS)
def test_every_shipped_definition_draws(shipped, key):
    spec = shipped(key)
    svg = render_svg(spec, current=[spec.start.first])
    doc = minidom.parseString(svg)
    texts = " ".join(t.firstChild.data for t in doc.getElementsByTagName("text")
                     if t.firstChild and t.firstChild.nodeType == t.TEXT_NODE)
    for step in spec.steps:
        assert step.name[:5] in texts
    assert len([g for g in doc.getElementsByTagName("g")
                if g.getAttribute("class") == "current"]) == 1
    assert "<script" not in svg and "http://" not in svg.replace("http://www.w3.org", "")


def test_current_step_is_the_highlighted_one(shipped):
    svg = render_svg(shipped("micro_wish"), current=["wall"])
    doc = minidom.parseString(svg)
    current = [g for g in doc.getElementsByTagName("g") if g.getAttribute("class") == "current"]
    assert current[0].getElementsByTagName("title")[0].firstChild.data == "心愿墙待认领"


def test_ends_look_different_from_steps(shipped):
    doc = minidom.parseString(render_svg(shipped("micro_wish")))
    radii = {r.getAttribute("rx") for r in doc.getElementsByTagName("rect")}
    assert radii == {"6.0", "26.0"}


def test_labels_are_escaped(inline):
    spec = inline("""
key: tricky
name: "A & <B>"
start: {who: anyone}
steps:
  s: {kind: task, name: "<script>alert(1)</script>", assignee: applicant, next: done}
ends: {done: {status: completed, name: "完成 & \\"好\\""}}
""")
    svg = render_svg(spec)
    minidom.parseString(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="A &amp; &lt;B&gt;"' in svg


def test_english_labels(shipped):
    svg = render_svg(shipped("micro_wish"), locale="en")
    assert "Verify at the station" in svg and "Approval" in svg


def _edge_texts(svg: str) -> list[str]:
    """The full label of every arrow (its <title>; the text shown may be shortened)."""
    doc = minidom.parseString(svg)
    return [title.firstChild.data for t in doc.getElementsByTagName("text")
            for title in t.getElementsByTagName("title") if title.firstChild]


@pytest.mark.parametrize("key,zh,en", [
    ("micro_wish", "未实现，退回认领人", "Not fulfilled, back to the volunteer"),
    ("retreat_nomination", "未参加", "Did not travel"),
    ("training_registration", "课程要求审核", "Course requires approval"),
])
def test_decision_branches_are_named_in_the_locale(shipped, key, zh, en):
    spec = shipped(key)
    english = " ".join(_edge_texts(render_svg(spec, locale="en")))
    assert en in english and zh not in english
    assert zh in " ".join(_edge_texts(render_svg(spec, locale="zh")))


def test_a_branch_without_english_label_keeps_its_label_or_condition(inline):
    spec = inline("""
key: routes
name: 分流
start: {who: anyone}
steps:
  route:
    kind: decision
    name: 分流
    branches:
      - {when: "1 == 1", go: a, label: 甲}
      - {when: "2 == 2", go: b}
    default: a
ends: {a: {status: completed, name: 甲}, b: {status: completed, name: 乙}}
""")
    texts = _edge_texts(render_svg(spec, locale="en"))
    assert "甲" in texts and "2 == 2" in texts


@pytest.mark.parametrize("key", KEYS)
def test_focus_is_where_the_highlighted_box_is_centred(shipped, key):
    import re

    from workflows.diagram import focus

    spec = shipped(key)
    for step in spec.steps:
        svg = render_svg(spec, current=[step.id])
        width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
        current = re.search(r'<g class="current">.*?<rect x="([\d.]+)" y="[\d.]+" '
                            r'width="([\d.]+)"', svg, re.S)
        x, w = float(current.group(1)), float(current.group(2))
        assert focus(spec, [step.id]) == pytest.approx((x + w / 2) / width, abs=0.002)
    assert focus(spec, ["no-such-step"]) is None and focus(spec, []) is None


def test_every_outcome_of_every_kind_has_words_in_both_languages():
    from workflows.diagram import outcome_label
    from workflows.kinds import KINDS

    for kind in KINDS.values():
        for outcome in kind.outcomes:
            for locale in ("zh", "en"):
                words = outcome_label(kind, outcome, locale)
                assert words != outcome and (words or outcome == "done"), (kind.name, outcome)


def _raw_keys() -> set[str]:
    from workflows.kinds import KINDS

    return {o for kind in KINDS.values() for o in kind.outcomes} | {"timeout", "default"}


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_no_arrow_of_a_shipped_definition_shows_a_raw_outcome_key(shipped, path, locale):
    labels = _edge_texts(render_svg(shipped(path.stem), locale=locale))
    assert labels
    assert not [t for t in labels if t in _raw_keys() or t.startswith("return:")], labels


@pytest.mark.parametrize("locale,passed,failed,wrong", [
    ("zh", "结业合格", "出勤不足", "无异议"),
    ("en", "Course passed", "Too little attendance", "No objection"),
])
def test_attendance_outcomes_read_as_attendance_not_publicity(shipped, locale, passed,
                                                               failed, wrong):
    labels = _edge_texts(render_svg(shipped("training_registration"), locale=locale))
    assert passed in labels and failed in labels and wrong not in labels
    retreat = _edge_texts(render_svg(shipped("retreat_nomination"), locale=locale))
    assert wrong in retreat and passed not in retreat
