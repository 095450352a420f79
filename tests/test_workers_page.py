"""The workers and queues page reads Celery's control channel and the broker."""

from __future__ import annotations


def test_it_lists_workers_with_their_queues_and_queue_lengths(app, auth, worker):
    auth.login("viewer")
    page = auth.client.get("/workers").get_data(as_text=True)
    rows = page[page.index("<h2>Workers</h2>") : page.index("<h2>Queues</h2>")]
    assert "test@" in rows and "ansible, default" in rows and "prefork × 2" in rows, rows
    assert "<td>ansible</td><td>0</td>" in page
    assert "Open Flower" not in page  # Flower is for admins


def test_it_says_so_when_the_broker_is_down(app, users):
    from app import create_app
    from tests.conftest import Auth
    from tests.services import free_port

    down = create_app({"TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    auth = Auth(down.test_client())
    auth.login("admin")
    resp = auth.client.get("/workers")
    assert resp.status_code == 200 and "The broker did not answer" in resp.get_data(as_text=True)


def test_it_shows_rq_compatible_queues_and_counts_their_waiting_messages(app, auth, worker, service_env):
    import socket

    from redis import Redis

    from app.tasks.rq_compat import Queue

    control, node = app.extensions["celery"].control, [f"test@{socket.gethostname()}"]
    queue = Queue("default", connection=Redis.from_url(service_env["REDIS_URL"]))
    control.cancel_consumer("default", destination=node, reply=True)  # let the job wait in its queue
    try:
        queue.enqueue("tests.rq_jobs.add", 1, 2)
        auth.login("viewer")
        page = auth.client.get("/workers").get_data(as_text=True)
        rq_rows = page[page.index("RQ-compatible queues") :]
        assert "<tr><td>default</td><td>1</td>" in rq_rows  # RQ's own count: one queued
        celery_rows = page[page.index("<h2>Queues</h2>") : page.index("RQ-compatible queues")]
        assert "<tr><td>default</td><td>1</td>\n    <td>no worker</td>" in celery_rows  # its message, counted
    finally:
        control.add_consumer("default", destination=node, reply=True)
        queue.empty()
