"""RQ conformance: failures, retries, job timeouts and callbacks."""

from __future__ import annotations

import time

import pytest

from tests import rq_jobs

pytest_plugins = ["tests.test_rq_compat_support"]


def test_it_moves_a_failing_job_to_the_failed_registry(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.fail, "boom")
    impl.run(job)
    assert job.get_status() == "failed" and job.is_failed and job.return_value() is None
    assert job.id in queue.failed_job_registry and queue.failed_job_registry.count == 1
    result = job.latest_result()
    assert result.type == impl.api.Result.Type.FAILED
    assert "ValueError: boom" in result.exc_string and "rq_jobs.py" in result.exc_string
    with pytest.deprecated_call():
        assert "ValueError: boom" in job.exc_info
    job.refresh()
    assert job.ended_at is not None and queue.count == 0


def test_it_retries_up_to_max_then_succeeds(impl):
    job = impl.queue().enqueue(rq_jobs.flaky, "counter:ok", 2, retry=impl.api.Retry(max=2))
    impl.run(job)
    assert job.get_status() == "finished" and job.return_value() == 3
    assert int(impl.redis.get("counter:ok")) == 3


def test_it_fails_once_retries_run_out(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.flaky, "counter:out", 5, retry=impl.api.Retry(max=2))
    impl.run(job)
    assert job.get_status() == "failed" and int(impl.redis.get("counter:out")) == 3
    assert impl.api.Job.fetch(job.id, connection=impl.redis).retries_left == 0
    assert job.id in queue.failed_job_registry
    assert "failure 3 of 5" in job.latest_result().exc_string


def test_it_schedules_retries_after_their_interval(impl):
    queue = impl.queue()
    started = time.monotonic()
    job = queue.enqueue(rq_jobs.flaky, "counter:wait", 2, retry=impl.api.Retry(max=2, interval=[1, 1]))
    impl.run(until=lambda: impl.redis.get("counter:wait") == b"1" and job.get_status() == "scheduled")
    assert job.id in queue.scheduled_job_registry and queue.count == 0
    impl.run(job)
    assert job.get_status() == "finished" and int(impl.redis.get("counter:wait")) == 3
    assert time.monotonic() - started >= 1.0  # two 1 s waits (RQ's scheduler rounds to whole seconds)


def test_it_fails_a_job_that_runs_past_its_timeout(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.sleep_then, 300, "woke up", job_timeout=1)
    impl.run(job)  # an unenforced timeout would leave the job running (or finished, with "woke up") here
    assert job.get_status() == "failed" and job.id in queue.failed_job_registry and job.return_value() is None
    text = job.latest_result().exc_string
    assert "JobTimeoutException" in text and "Task exceeded maximum timeout value (1 seconds)" in text


def test_it_calls_the_success_callback_with_the_result(impl):
    job = impl.queue().enqueue(rq_jobs.add, 2, 3, on_success=impl.api.Callback(rq_jobs.on_success))
    impl.run(job)
    assert impl.redis.lrange(f"callbacks:{job.id}", 0, -1) == [b"success:5"]


def test_it_calls_the_failure_callback_with_the_exception(impl):
    job = impl.queue().enqueue(
        rq_jobs.fail,
        "bad input",
        on_failure=impl.api.Callback("tests.rq_jobs.on_failure", timeout=10),
        on_success=impl.api.Callback(rq_jobs.on_success),
    )
    impl.run(job)
    assert impl.redis.lrange(f"callbacks:{job.id}", 0, -1) == [b"failure:ValueError:bad input"]


def test_it_fails_the_job_when_its_success_callback_raises(impl):
    job = impl.queue().enqueue(rq_jobs.add, 1, 1, on_success=impl.api.Callback(rq_jobs.failing_callback))
    impl.run(job)
    assert job.get_status() == "failed" and "callback broke" in job.latest_result().exc_string


def test_it_runs_inline_when_the_queue_is_not_async(impl):
    queue = impl.queue(is_async=False)
    job = queue.enqueue(rq_jobs.add, 4, 5, on_success=impl.api.Callback(rq_jobs.on_success))
    assert job.get_status() == "finished" and job.return_value() == 9
    assert impl.redis.lrange(f"callbacks:{job.id}", 0, -1) == [b"success:9"]
    failed = queue.enqueue(rq_jobs.fail, "inline", on_failure=impl.api.Callback(rq_jobs.on_failure))
    assert failed.get_status() == "failed" and failed.id in queue.failed_job_registry
    assert impl.redis.lrange(f"callbacks:{failed.id}", 0, -1) == [b"failure:ValueError:inline"]
    assert queue.count == 0


def test_it_runs_a_job_again_when_it_returns_retry(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.retry_until, "counter:returned", 3, 5, interval=1)
    impl.run(until=lambda: impl.redis.get("counter:returned") == b"1" and job.get_status() == "scheduled")
    assert job.id in queue.scheduled_job_registry and queue.count == 0  # interval=1: it waits for its time
    impl.run(job)
    assert job.get_status() == "finished" and job.return_value() == 3
    Type = impl.api.Result.Type
    assert [result.type for result in job.results()] == [Type.SUCCESSFUL, Type.RETRIED, Type.RETRIED]
    assert impl.api.Job.fetch(job.id, connection=impl.redis).number_of_retries == 2


def test_it_fails_a_job_that_keeps_returning_retry_past_its_max(impl):
    queue = impl.queue()
    job = queue.enqueue(
        rq_jobs.retry_until, "counter:exceeded", None, 2, on_success=impl.api.Callback(rq_jobs.on_success)
    )
    impl.run(until=lambda: impl.settled(job) and impl.redis.get("counter:exceeded") == b"3")
    assert job.get_status() == "failed" and job.id in queue.failed_job_registry
    Type = impl.api.Result.Type
    assert [result.type for result in job.results()] == [Type.MAX_RETRIES_EXCEEDED, Type.RETRIED, Type.RETRIED]
    assert impl.api.Job.fetch(job.id, connection=impl.redis).number_of_retries == 2
    assert job.return_value() is None and impl.redis.lrange(f"callbacks:{job.id}", 0, -1) == []
