"""RQ conformance: cancel, delete, requeue, stop, scheduling and the TTLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import rq_jobs
from tests.services import wait_for

pytest_plugins = ["tests.test_rq_compat_support"]


def rq_major_version() -> int:
    """The installed RQ's major version (the suite also runs against 2.x: see requirements-dev.txt)."""
    import rq

    return int(rq.__version__.split(".")[0])


def test_it_never_runs_a_canceled_job(impl):
    queue = impl.queue()
    canceled = queue.enqueue(rq_jobs.append, "order:cancel", "canceled")
    kept = queue.enqueue(rq_jobs.append, "order:cancel", "kept")
    impl.api.cancel_job(canceled.id, connection=impl.redis)
    assert canceled.get_status() == "canceled" and canceled.is_canceled
    assert canceled.id in queue.canceled_job_registry and queue.job_ids == [kept.id]
    with pytest.raises(impl.api.InvalidJobOperation):
        canceled.cancel()
    impl.run(kept)
    assert impl.redis.lrange("order:cancel", 0, -1) == [b"kept"]
    assert canceled.get_status() == "canceled"


def test_it_never_runs_a_deleted_job(impl):
    queue = impl.queue()
    deleted = queue.enqueue(rq_jobs.append, "order:delete", "deleted")
    kept = queue.enqueue(rq_jobs.append, "order:delete", "kept")
    deleted.delete()
    assert not impl.api.Job.exists(deleted.id, connection=impl.redis) and queue.job_ids == [kept.id]
    impl.run(kept)
    assert impl.redis.lrange("order:delete", 0, -1) == [b"kept"]


def test_it_deletes_a_finished_job_with_its_results(impl):
    if impl.name == "rq" and rq_major_version() < 3:
        pytest.skip("RQ 2.x keeps a deleted job's results; RQ 3.0 (the pinned version) deletes them")
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.add, 20, 22)
    impl.run(job)
    assert job.latest_result().return_value == 42 and job.id in queue.finished_job_registry
    job.delete()
    assert not impl.api.Job.exists(job.id, connection=impl.redis) and job.id not in queue.finished_job_registry
    assert job.latest_result() is None and job.results() == []  # RQ 3.0: results go with the job


def test_it_requeues_a_failed_job(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.flaky, "counter:requeue", 1)
    impl.run(job)
    assert job.get_status() == "failed"
    impl.pause()
    requeued = impl.api.requeue_job(job.id, connection=impl.redis)
    assert requeued.get_status() == "queued" and job.id not in queue.failed_job_registry
    assert queue.job_ids == [job.id]
    with pytest.raises(impl.api.InvalidJobOperation):
        requeued.requeue()
    impl.run(job)
    assert job.get_status() == "finished" and job.return_value() == 2
    assert [r.type for r in job.results()] == [impl.api.Result.Type.SUCCESSFUL, impl.api.Result.Type.FAILED]


def test_it_stops_a_running_job(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.mark_started_then_sleep, 30, on_stopped=impl.api.Callback(rq_jobs.on_stopped))
    with pytest.raises(impl.api.InvalidJobOperation):
        impl.api.send_stop_job_command(impl.redis, job.id)
    impl.start()
    wait_for(lambda: job.get_meta().get("running"), timeout=20, message="the job to start")
    assert job.get_status() == "started" and job.id in queue.started_job_registry
    impl.api.send_stop_job_command(impl.redis, job.id)
    impl.run(job, timeout=20)
    assert job.get_status() == "stopped" and job.is_stopped
    assert job.id in queue.failed_job_registry and queue.started_job_registry.count == 0
    assert impl.redis.lrange(f"callbacks:{job.id}", 0, -1) == [b"stopped"]


def test_it_runs_a_job_scheduled_in_a_while(impl):
    queue = impl.queue()
    job = queue.enqueue_in(timedelta(seconds=1), rq_jobs.add, 2, 2)
    assert job.get_status() == "scheduled" and job.is_scheduled and queue.count == 0
    due = queue.scheduled_job_registry.get_scheduled_time(job)
    assert abs((due - datetime.now(UTC)).total_seconds()) < 2
    impl.run(job)
    assert job.return_value() == 4
    job.refresh()
    assert job.started_at >= due - timedelta(seconds=1) and job.enqueued_at <= job.started_at


def test_it_runs_a_job_scheduled_at_a_time(impl):
    when = datetime.now(UTC) + timedelta(seconds=1)
    job = impl.queue().enqueue_at(when, rq_jobs.add, 3, 3)
    assert job.id in impl.queue().scheduled_job_registry
    impl.run(job)
    assert job.return_value() == 6 and job.get_status() == "finished"


def test_it_keeps_results_for_result_ttl(impl):
    queue = impl.queue()
    gone = queue.enqueue(rq_jobs.add, 1, 1, result_ttl=0)
    kept = queue.enqueue(rq_jobs.add, 1, 2, result_ttl=600)
    forever = queue.enqueue(rq_jobs.add, 1, 3, result_ttl=-1)
    brief = queue.enqueue(rq_jobs.add, 1, 4, result_ttl=1)
    impl.run(gone, kept, forever, brief)
    assert not impl.api.Job.exists(gone.id, connection=impl.redis)
    assert impl.redis.ttl(forever.key) == -1 and forever.return_value() == 4
    assert kept.return_value() == 3 and 0 < impl.redis.ttl(kept.key) <= 600
    assert kept.id in queue.finished_job_registry
    wait_for(lambda: not impl.api.Job.exists(brief.id, connection=impl.redis), timeout=60, message="result_ttl")


def test_it_keeps_failures_for_failure_ttl(impl):
    brief = impl.queue().enqueue(rq_jobs.fail, failure_ttl=1)
    short = impl.queue().enqueue(rq_jobs.fail, failure_ttl=600)
    kept = impl.queue().enqueue(rq_jobs.fail)
    impl.run(brief, short, kept)
    assert kept.get_status() == "failed" and impl.redis.ttl(kept.key) > 300 * 24 * 3600
    assert short.get_status() == "failed" and 0 < impl.redis.ttl(short.key) <= 600
    wait_for(lambda: not impl.api.Job.exists(brief.id, connection=impl.redis), timeout=60, message="failure_ttl")


def test_it_discards_a_job_whose_ttl_ran_out_in_the_queue(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.append, "order:ttl", "late", ttl=1)
    wait_for(lambda: not impl.api.Job.exists(job.id, connection=impl.redis), timeout=60, message="ttl")
    marker = queue.enqueue(rq_jobs.append, "order:ttl", "marker")
    impl.run(marker)
    assert impl.redis.lrange("order:ttl", 0, -1) == [b"marker"]
    impl.run(until=lambda: queue.count == 0)


def test_it_manages_jobs_through_their_registries(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.fail, "registry")
    impl.run(job)
    registry = impl.api.FailedJobRegistry(queue=queue)
    assert registry.get_job_ids() == [job.id] and len(registry) == 1 and job in registry
    assert registry.get_expiration_time(job) > datetime.now(UTC) + timedelta(days=300)
    impl.pause()
    registry.requeue(job.id)
    assert job.get_status() == "queued" and registry.count == 0
    impl.run(job)
    registry.remove(job, delete_job=True)
    assert registry.count == 0 and not impl.api.Job.exists(job.id, connection=impl.redis)
    assert queue.fetch_job(job.id) is None
