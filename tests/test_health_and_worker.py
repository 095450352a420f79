"""A real worker through a real broker, and /healthz."""

from __future__ import annotations

import os

from app.ops.health import check_broker
from tests.services import free_port


def test_it_runs_a_task_on_a_real_worker_inside_an_app_context(app, worker, users):
    result = app.extensions["celery"].send_task("app.tasks.ops.ping").get(timeout=20)
    assert result["users"] == 3
    assert result["pid"] != os.getpid()


def test_it_reports_healthy_when_database_broker_and_worker_answer(client, worker):
    resp = client.get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["workers"]["count"] >= 1


def test_it_answers_503_when_the_broker_is_unreachable(app):
    from celery import Celery

    dead = Celery(broker=f"redis://127.0.0.1:{free_port()}/0")
    assert check_broker(dead, timeout=0.5)["ok"] is False
    with app.app_context():
        from app.ops.health import health

        result = health(dead, timeout=0.5)
    assert result["ok"] is False
    assert result["workers"]["error"] == "broker unreachable"
    assert result["database"]["ok"] is True
