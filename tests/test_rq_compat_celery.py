"""What the Celery side adds: real task names in Flower and the worker, Celery time limits and queues, kills,
and records that RQ's own tools read."""

from __future__ import annotations

import base64
import inspect
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app.tasks.rq_compat import dispatch
from tests import rq_jobs
from tests.services import ROOT, free_port, port_open, stop_process, wait_for

pytest_plugins = ["tests.test_rq_compat_support"]


FLOWER_AUTH = "ops:flower-test"


def flower_tasks(port: int) -> dict:
    """Flower's view of every task it saw (its JSON API, behind basic auth as in production)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/tasks",
        headers={"Authorization": "Basic " + base64.b64encode(FLOWER_AUTH.encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def flower(service_env, tmp_path):
    """Flower itself, watching the test broker's events."""
    port = free_port()
    with (tmp_path / "flower.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "wsgi",
                "flower",
                f"--port={port}",
                "--address=127.0.0.1",
                f"--basic-auth={FLOWER_AUTH}",
            ],
            cwd=ROOT,
            env=service_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: port_open(port), timeout=30, message="Flower to listen")
        yield port
    finally:
        stop_process(proc)


def test_it_shows_jobs_in_flower_under_their_function_names(ours, flower):
    queue = ours.queue()
    ours.start()

    def seen(job, state):
        task = flower_tasks(flower).get(job.celery_task_id) or {}
        return task.get("state") == state and task

    # Flower only knows events sent after it connected: enqueue one job per poll until one of them shows up.
    jobs = []

    def any_seen():
        jobs.append(queue.enqueue(rq_jobs.add, 2, 3))
        return next((task for job in jobs if (task := seen(job, "SUCCESS"))), None)

    task = wait_for(any_seen, timeout=30, interval=0.2, message="a job in Flower")
    assert task["name"] == "tests.rq_jobs.add" and task["args"] == "(2, 3)" and task["result"] == "5"
    failed = queue.enqueue(rq_jobs.fail, "flower")
    method = queue.enqueue(rq_jobs.Greeter("Hello").greet, "ops")
    task = wait_for(lambda: seen(failed, "FAILURE"), timeout=20, message="the failure in Flower")
    assert task["name"] == "tests.rq_jobs.fail" and "flower" in task["exception"]
    task = wait_for(lambda: seen(method, "SUCCESS"), timeout=20, message="the method in Flower")
    assert task["name"] == "tests.rq_jobs.Greeter.greet" and method.return_value() == "Hello, ops"


def test_it_registers_runner_tasks_in_the_worker_on_demand(ours, app):
    job = ours.queue().enqueue(rq_jobs.add, 1, 1)
    ours.run(job)
    registered = app.extensions["celery"].control.inspect(destination=[ours.node], timeout=5).registered()
    assert "tests.rq_jobs.add" in registered[ours.node]
    assert job.worker_name == ours.node or ours.api.Job.fetch(job.id, connection=ours.redis).worker_name == ours.node


def queued_messages(ours, key):
    """The Celery messages waiting in one Redis list of the broker, oldest first."""
    return [json.loads(raw) for raw in reversed(ours.redis.lrange(key, 0, -1))]


def test_it_publishes_a_message_named_after_the_function_with_the_jobs_queue_and_limits(ours):
    queue = ours.queue()
    job = queue.enqueue(rq_jobs.add, 1, 2, job_timeout=7)
    urgent = queue.enqueue(rq_jobs.echo, x=1, at_front=True)
    normal = wait_for(lambda: queued_messages(ours, f"{ours.queue_name}\x06\x163"), timeout=30, message="message")
    front = wait_for(lambda: queued_messages(ours, ours.queue_name), timeout=30, message="at_front message")
    headers = normal[0]["headers"]
    assert (headers["task"], headers["id"], headers["argsrepr"]) == ("tests.rq_jobs.add", job.id, "(1, 2)")
    assert headers["timelimit"] == [7 + dispatch.HARD_LIMIT_GRACE, 7]  # (hard, soft)
    assert normal[0]["properties"]["delivery_info"]["routing_key"] == ours.queue_name
    assert normal[0]["properties"]["priority"] == dispatch.NORMAL_PRIORITY
    assert front[0]["headers"]["task"] == "tests.rq_jobs.echo" and front[0]["headers"]["id"] == urgent.id
    assert front[0]["headers"]["timelimit"] == [180 + dispatch.HARD_LIMIT_GRACE, 180]  # RQ's default timeout


def test_it_caps_time_limits_at_the_projects_celery_limits(app):
    conf = app.extensions["celery"].conf
    job = type(
        "J",
        (),
        {
            "timeout": 10 * 3600,
            "_callback_names": {"success": None, "failure": None},
            "callback_timeout": lambda self, kind: 60,
        },
    )()
    assert dispatch.time_limits(job, conf) == (conf.task_soft_time_limit, conf.task_time_limit)
    job.timeout = -1  # RQ's "no timeout": the project's limits still apply
    assert dispatch.time_limits(job, conf) == (conf.task_soft_time_limit, conf.task_time_limit)
    job.timeout = 30
    assert dispatch.time_limits(job, conf) == (30, 30 + dispatch.HARD_LIMIT_GRACE)
    job._callback_names = {"success": "x.y", "failure": None}
    assert dispatch.time_limits(job, conf) == (30, 30 + dispatch.HARD_LIMIT_GRACE + 60)


def test_it_kills_a_job_that_ignores_its_soft_limit_at_the_hard_limit(ours):
    queue = ours.queue()
    job = queue.enqueue(rq_jobs.ignore_timeouts, 30, job_timeout=1)
    ours.run(job, timeout=20)
    assert job.get_status() == "failed" and job.id in queue.failed_job_registry
    text = job.latest_result().exc_string
    assert "JobTimeoutException" in text and "hard limit" in text
    assert queue.started_job_registry.count == 0


def test_it_records_a_job_whose_worker_process_died(ours):
    queue = ours.queue()
    job = queue.enqueue(rq_jobs.die, retry=ours.api.Retry(max=1))
    ours.run(until=lambda: ours.redis.hget(job.key, "status") == b"failed", timeout=30)
    assert "Work-horse terminated unexpectedly" in job.latest_result().exc_string
    assert job.id in queue.failed_job_registry


def test_it_still_reports_a_mistyped_project_task_as_unregistered(ours, app):
    from celery.exceptions import NotRegistered

    ours.start()
    result = app.extensions["celery"].send_task("app.tasks.ops.no_such_task", queue=ours.queue_name)
    with pytest.raises(NotRegistered):
        result.get(timeout=10)


def test_it_runs_a_job_once_even_if_its_message_arrives_twice(ours):
    job = ours.queue().enqueue(rq_jobs.append, "order:twice", "ran")
    dispatch.publish(job)  # a redelivered copy of the same message
    ours.run(job)
    ours.run(until=lambda: ours.redis.llen(ours.queue_name) + ours.redis.llen(f"{ours.queue_name}\x06\x163") == 0)
    assert ours.redis.lrange("order:twice", 0, -1) == [b"ran"]


def test_it_fails_a_started_job_whose_worker_vanished(ours):
    queue = ours.queue()
    job = queue.enqueue(rq_jobs.add, 1, 1, on_failure=ours.api.Callback(rq_jobs.on_failure))
    from app.tasks.rq_compat.execution import claim

    assert claim(ours.redis, job.id, queue.name, job.celery_task_id, "gone@host", deadline=None) == "ok"
    ours.redis.zadd(queue.started_job_registry.key, {f"{job.id}:{job.celery_task_id}": 1})  # deadline long past
    assert queue.started_job_registry.count == 0
    assert job.get_status() == "failed" and "AbandonedJobError" in job.latest_result().exc_string
    assert ours.redis.lrange(f"callbacks:{job.id}", 0, -1) == [b"failure:AbandonedJobError:"]


def test_it_writes_records_that_real_rq_reads(ours):
    import rq.job
    import rq.registry

    queue = ours.queue()
    done, failed = queue.enqueue(rq_jobs.add, 20, 22), queue.enqueue(rq_jobs.fail, "told")
    ours.run(done, failed)
    theirs = rq.job.Job.fetch(done.id, connection=ours.redis)
    assert (theirs.get_status(), theirs.return_value(), theirs.func_name) == ("finished", 42, "tests.rq_jobs.add")
    assert "ValueError: told" in rq.job.Job.fetch(failed.id, connection=ours.redis).latest_result().exc_string
    assert rq.registry.FailedJobRegistry(queue.name, connection=ours.redis).get_job_ids() == [failed.id]


def test_it_reads_records_real_rq_wrote(real_rq):
    from app.tasks.rq_compat import FinishedJobRegistry, Job

    job = real_rq.queue().enqueue(rq_jobs.add, 1, 2, meta={"by": "rq"})
    real_rq.run(job)
    assert FinishedJobRegistry(real_rq.queue_name, connection=real_rq.redis).get_job_ids() == [job.id]
    ours = Job.fetch(job.id, connection=real_rq.redis)
    assert (ours.get_status(), ours.return_value(), ours.meta, ours.origin) == (
        "finished",
        3,
        {"by": "rq"},
        real_rq.queue_name,
    )


def test_it_reports_counts_like_rq_info(ours, app):
    from app.tasks.rq_compat import queue_overview
    from app.tasks.rq_compat.cli import rq_cli

    queue = ours.queue()
    finished, failed = queue.enqueue(rq_jobs.add, 1, 1), queue.enqueue(rq_jobs.fail)
    ours.run(finished, failed)
    ours.pause()
    queue.enqueue(rq_jobs.add, 2, 2, depends_on=queue.enqueue(rq_jobs.add, 3, 3))
    queue.enqueue(rq_jobs.add, 4, 4).cancel()
    queue.enqueue_in(__import__("datetime").timedelta(hours=1), rq_jobs.add, 5, 5)
    expected = {
        "name": ours.queue_name,
        "queued": 1,
        "started": 0,
        "finished": 1,
        "failed": 1,
        "deferred": 1,
        "scheduled": 1,
        "canceled": 1,
    }
    assert [row for row in queue_overview(ours.redis) if row["name"] == ours.queue_name] == [expected]
    theirs = subprocess.run(
        [dispatch_rq_bin(), "info", "--raw", "--only-queues", "--url", ours.url, ours.queue_name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert theirs == f"queue {ours.queue_name} 1, 0 executing, 1 finished, 1 failed"
    app.cli.add_command(rq_cli)
    mine = app.test_cli_runner().invoke(args=["rq", "info", "--raw", ours.queue_name])
    assert mine.exit_code == 0, mine.output
    assert mine.output.strip() == theirs + ", 1 deferred, 1 scheduled, 1 canceled"
    assert ours.queue_name in app.test_cli_runner().invoke(args=["rq", "info"]).output


def dispatch_rq_bin() -> str:
    """The `rq` command of this venv."""
    return str(Path(sys.executable).with_name("rq"))


SAME_SIGNATURES = [
    ("Queue", "__init__"),
    ("Queue", "enqueue_call"),
    ("Queue", "prepare_data"),
    ("Queue", "enqueue_at"),
    ("Queue", "enqueue_many"),
    ("Queue", "enqueue_job"),
    ("Queue", "schedule_job"),
    ("Queue", "get_job_ids"),
    ("Queue", "delete"),
    ("Queue", "enqueue_dependents"),
    ("Job", "fetch"),
    ("Job", "fetch_many"),
    ("Job", "exists"),
    ("Job", "get_status"),
    ("Job", "cancel"),
    ("Job", "delete"),
    ("Job", "requeue"),
    ("Job", "latest_result"),
    ("Job", "return_value"),
    ("Retry", "__init__"),
    ("Callback", "__init__"),
    ("Dependency", "__init__"),
    ("cancel_job", None),
    ("requeue_job", None),
    ("send_stop_job_command", None),
    ("FailedJobRegistry", "__init__"),
    ("StartedJobRegistry", "get_job_ids"),
    ("ScheduledJobRegistry", "get_scheduled_time"),
]


@pytest.mark.parametrize("name, attribute", SAME_SIGNATURES)
def test_it_keeps_rqs_signatures(name, attribute):
    import rq

    from tests.test_rq_compat_support import our_api, real_rq_api

    if int(rq.__version__.split(".")[0]) < 3:
        pytest.skip("the API follows RQ 3.0's signatures (the pinned RQ); 2.x lacks rate_limit= and more")

    def parameters(api):
        target = getattr(api, name) if attribute is None else getattr(getattr(api, name), attribute)
        return list(inspect.signature(target).parameters)

    assert parameters(our_api()) == parameters(real_rq_api())


def test_it_runs_on_the_projects_own_worker_and_queues(worker, rq_redis):
    from app.tasks.rq_compat import Job, Queue

    jobs = [Queue(name, connection=rq_redis).enqueue(rq_jobs.describe_self) for name in ("default", "ansible")]
    for job in jobs:
        assert job.latest_result(timeout=30).return_value["origin"] == job.origin
        assert Job.fetch(job.id, connection=rq_redis).worker_name.startswith("test@")  # conftest's worker


def test_it_publishes_from_a_script_that_never_wired_the_app(ours):
    script = (
        "from redis import Redis\n"
        "from app.tasks.rq_compat import Queue\n"
        "from tests import rq_jobs\n"
        f"print(Queue({ours.queue_name!r}, connection=Redis.from_url({ours.url!r})).enqueue(rq_jobs.add, 2, 40).id)\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "RQ_REDIS_URL")}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    job = ours.api.Job.fetch(done.stdout.strip(), connection=ours.redis)
    ours.run(job)
    assert job.return_value() == 42 and job.get_status() == "finished"
