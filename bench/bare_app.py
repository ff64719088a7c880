"""The floor the approval endpoint is measured against: bare Flask, no UnionFlow code.

``/hello`` answers a constant; ``/transition/<id>`` does what an approval has to do at the
least — one UPDATE of the instance row (its version bumped), one INSERT of a history row,
a commit, and an RQ enqueue after the commit — through a small SQLAlchemy Core pool, like
the app's.  Served by gunicorn from bench/throughput.py:

    BARE_DATABASE_URL=postgresql+psycopg://... BARE_REDIS_URL=redis://127.0.0.1:6379/14 \
        gunicorn -w 2 -b 127.0.0.1:8712 bench.bare_app:app
"""
from __future__ import annotations

import os

import redis
from flask import Flask, jsonify
from rq import Queue
from sqlalchemy import create_engine, text

QUEUE = "bench-bare"  # nobody works it: the bench empties it afterwards

app = Flask(__name__)
engine = create_engine(os.environ["BARE_DATABASE_URL"], pool_pre_ping=True)
queue = Queue(QUEUE, connection=redis.Redis.from_url(os.environ["BARE_REDIS_URL"]))

UPDATE = text("UPDATE instances SET lock_version = lock_version + 1, updated_at = now() "
              "WHERE id = :id RETURNING lock_version")
INSERT = text("INSERT INTO history (instance_id, seq, at, actor_id, action, step, task_key) "
              "VALUES (:id, :seq, now(), NULL, 'comment', NULL, NULL)")


def noop(instance_id: int) -> int:
    return instance_id


@app.get("/hello")
def hello():
    return "hello"


@app.post("/transition/<int:instance_id>")
def transition(instance_id: int):
    with engine.begin() as conn:
        version = conn.execute(UPDATE, {"id": instance_id}).scalar_one()
        # A seq above anything the real history uses, so the rows never collide with it.
        conn.execute(INSERT, {"id": instance_id, "seq": 100_000 + version})
    queue.enqueue(noop, instance_id)
    return jsonify(id=instance_id, version=version)
