"""The calls docs/api.md shows, run as written against freshly seeded demo data: an
example that answers 422 (a station id from someone else's database) teaches nothing."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Instance

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PASSWORD = "demo-pass-2026"
CAPTURE = re.compile(r"(\w+)=\$\((.*)\|\s*jq -r\s+(\S+)\)\Z", re.S)


def shell_commands(doc: str) -> list[str]:
    """The commands of the page's ``sh`` blocks, continuation lines and quoted line
    breaks joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", doc, re.S):
        pending = ""
        for line in block.splitlines():
            pending += line + "\n"
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quote still open
                continue
            if pending.rstrip().endswith("\\"):
                continue
            if words:
                commands.append(pending.replace("\\\n", " ").strip())
            pending = ""
    return commands


def jq(expression: str, value):
    """The little jq the page uses: ``.name``, ``.items[0].id``."""
    for name, index in re.findall(r"\.(\w+)|\[(\d+)\]", expression.strip("'")):
        value = value[name] if name else value[int(index)]
    return value


def curl(client, words: list[str]):
    method, headers, data, query, get, url = None, {}, None, [], False, None
    words = iter(words[1:])
    for word in words:
        if word == "-s":
            continue
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _sep, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words)
        elif word == "-G":
            get = True
        elif word == "--data-urlencode":
            query.append(tuple(next(words).split("=", 1)))
        else:
            url = word
    assert url is not None and (not query or get)
    parts = urlsplit("http://" + url)
    path = parts.path + ("?" + urlencode(query) if query else "")
    method = method or ("POST" if data is not None and not get else "GET")
    return client.open(path, method=method, headers=headers,
                       data=None if data is None else data.encode())


def test_every_call_of_the_page_works_on_the_demo_data(app, runner, client):
    app.config["DEMO_PASSWORD"] = PASSWORD
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    commands = shell_commands(DOC.read_text(encoding="utf-8"))
    assert len(commands) >= 6
    names: dict[str, str] = {}
    answers = []
    for command in commands:
        command = command.replace("<DEMO_PASSWORD>", PASSWORD)
        for name, value in names.items():
            command = command.replace("$" + name, value)
        captured = CAPTURE.match(command)
        words = shlex.split(captured.group(2) if captured else command, comments=True)
        assert words[0] == "curl", command
        answer = curl(client, words)
        assert answer.status_code < 400, (command, answer.get_json())
        answers.append(answer)
        if captured:
            names[captured.group(1)] = str(jq(captured.group(3), answer.get_json()))
    assert {"TOKEN", "STATION"} <= set(names)
    started = next(a for a in answers if "Location" in a.headers).get_json()
    assert started["data"]["station"] == int(names["STATION"])
    assert db.session.scalar(select(Instance.id).where(Instance.id == started["id"]))
    assert answers[-1].status_code == 204  # and the token is revoked
