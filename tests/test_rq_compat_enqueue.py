"""RQ conformance: enqueueing, RQ's own keyword arguments, ids, fetching, statuses and the queue itself."""

from __future__ import annotations

from datetime import UTC

import pytest

from tests import rq_jobs

pytest_plugins = ["tests.test_rq_compat_support"]


def test_it_runs_a_job_and_keeps_its_return_value(impl):
    queue = impl.queue()
    job = queue.enqueue(rq_jobs.add, 2, 3)
    assert job.get_status() == impl.api.JobStatus.QUEUED == "queued" and job.is_queued
    impl.run(job)
    assert job.get_status() == "finished" and job.is_finished
    assert job.return_value() == 5
    result = job.latest_result()
    assert result.type == impl.api.Result.Type.SUCCESSFUL and result.return_value == 5
    assert [r.type for r in job.results()] == [impl.api.Result.Type.SUCCESSFUL]
    assert job.id in queue.finished_job_registry and queue.count == 0


def test_it_describes_a_job_like_rq(impl):
    job = impl.queue().enqueue(rq_jobs.add, 2, b=3)
    assert job.func_name == "tests.rq_jobs.add"
    assert job.description == "tests.rq_jobs.add(2, b=3)"
    assert job.origin == impl.queue_name and job.args == (2,) and job.kwargs == {"b": 3}
    assert len(job.id) == 36 and job.id.count("-") == 4  # str(uuid4())
    impl.run(job)
    fetched = impl.api.Job.fetch(job.id, connection=impl.redis)
    assert fetched.enqueued_at <= fetched.started_at <= fetched.ended_at
    assert fetched.enqueued_at.tzinfo == UTC and fetched.worker_name


def test_it_lets_the_job_see_itself_through_get_current_job(impl):
    job = impl.queue().enqueue(rq_jobs.describe_self)
    impl.run(job)
    seen = job.return_value()
    assert seen["id"] == job.id and seen["origin"] == impl.queue_name
    assert seen["func_name"] == "tests.rq_jobs.describe_self" and seen["worker_name"]
    assert impl.api.get_current_job() is None  # outside a job


def test_it_consumes_rq_keyword_arguments_and_passes_the_rest_on(impl):
    job_id = impl.uid("custom")
    job = impl.queue().enqueue(
        rq_jobs.echo,
        1,
        x=2,
        job_timeout="2m",
        description="mine",
        result_ttl=100,
        ttl=60,
        failure_ttl=300,
        job_id=job_id,
        meta={"team": "ops"},
        at_front=False,
    )
    assert (job.id, job.timeout, job.description, job.meta) == (job_id, 120, "mine", {"team": "ops"})
    assert (job.result_ttl, job.ttl, job.failure_ttl) == (100, 60, 300)
    impl.run(job)
    assert job.return_value() == {"args": [1], "kwargs": {"x": 2}}


def test_it_passes_reserved_names_through_explicit_args_and_kwargs(impl):
    job = impl.queue().enqueue(rq_jobs.echo, args=(1,), kwargs={"description": "theirs", "ttl": 5}, ttl=30)
    assert job.ttl == 30 and job.description != "theirs"
    impl.run(job)
    assert job.return_value() == {"args": [1], "kwargs": {"description": "theirs", "ttl": 5}}


def test_it_accepts_the_function_as_a_dotted_path_and_enqueue_call(impl):
    queue = impl.queue()
    by_name = queue.enqueue("tests.rq_jobs.add", 1, 2)
    by_call = queue.enqueue_call(func=rq_jobs.add, args=(3, 4), kwargs=None, timeout=30)
    coroutine = queue.enqueue(rq_jobs.async_add, 5, 6)
    impl.run(by_name, by_call, coroutine)
    assert (by_name.return_value(), by_call.return_value(), coroutine.return_value()) == (3, 7, 11)
    assert by_call.timeout == 30


@pytest.mark.parametrize("given, seconds", [(30, 30), ("45", 45), ("2m", 120), ("1h", 3600), ("1d", 86400)])
def test_it_reads_job_timeouts_like_rq(impl, given, seconds):
    assert impl.queue().enqueue(rq_jobs.add, 1, 1, job_timeout=given).timeout == seconds


def test_it_refuses_bad_timeouts_and_ttls(impl):
    queue = impl.queue()
    with pytest.raises(impl.api.TimeoutFormatError):
        queue.enqueue(rq_jobs.add, 1, 1, job_timeout="soon")
    with pytest.raises(ValueError):
        queue.enqueue(rq_jobs.add, 1, 1, job_timeout=0)
    with pytest.raises(ValueError):
        queue.enqueue(rq_jobs.add, 1, 1, ttl=0)
    assert (
        queue.enqueue(rq_jobs.add, 1, 1).timeout
        == 180
        == impl.queue(default_timeout="3m").enqueue(rq_jobs.add, 1, 1).timeout
    )


def test_it_enqueues_many_prepared_calls(impl):
    queue, first, second = impl.queue(), impl.uid("many"), impl.uid("many")
    jobs = queue.enqueue_many(
        [
            impl.api.Queue.prepare_data(rq_jobs.add, (1, 2), job_id=first),
            impl.api.Queue.prepare_data(rq_jobs.add, (3, 4), job_id=second, result_ttl=50),
        ]
    )
    assert [job.id for job in jobs] == [first, second] and queue.job_ids == [first, second]
    impl.run(*jobs)
    assert [job.return_value() for job in jobs] == [3, 7] and jobs[1].result_ttl == 50


def test_it_validates_custom_job_ids(impl):
    queue = impl.queue()
    with pytest.raises(ValueError):
        queue.enqueue(rq_jobs.add, 1, 2, job_id="not valid!")
    with pytest.raises(TypeError):
        queue.enqueue(rq_jobs.add, 1, 2, job_id=123)
    assert queue.enqueue(rq_jobs.add, 1, 2, job_id="Ok_id-42").id == "Ok_id-42"


def test_it_refuses_a_duplicate_id_when_unique(impl):
    queue, job_id = impl.queue(), impl.uid("unique")
    first = queue.enqueue(rq_jobs.add, 1, 2, job_id=job_id, unique=True)
    with pytest.raises(impl.api.DuplicateJobError):
        queue.enqueue(rq_jobs.add, 1, 2, job_id=job_id, unique=True)
    with pytest.raises(ValueError):
        queue.enqueue(rq_jobs.add, 1, 2, unique=True)
    assert queue.job_ids == [job_id]
    impl.run(first)
    assert first.return_value() == 3


def test_it_fetches_jobs_by_id(impl):
    job = impl.queue().enqueue(rq_jobs.add, 1, 2)
    assert impl.api.Job.fetch(job.id, connection=impl.redis) == job
    assert impl.api.Job.exists(job.id, connection=impl.redis)
    assert not impl.api.Job.exists("nope", connection=impl.redis)
    with pytest.raises(impl.api.NoSuchJobError):
        impl.api.Job.fetch("nope", connection=impl.redis)
    assert impl.api.Job.fetch_many([job.id, "nope"], connection=impl.redis) == [job, None]
    assert impl.queue().fetch_job(job.id) == job


def test_it_keeps_meta_saved_inside_the_job(impl):
    job = impl.queue().enqueue(rq_jobs.record_meta, "progress", 42, meta={"owner": "ops"})
    impl.run(job)
    assert job.get_meta() == {"owner": "ops", "progress": 42}
    assert impl.api.Job.fetch(job.id, connection=impl.redis).meta["progress"] == 42


def test_it_reports_status_only_when_asked_to_refresh(impl):
    job = impl.queue().enqueue(rq_jobs.add, 1, 2)
    impl.run(job)
    assert job.get_status(refresh=False) == "queued"
    assert job.get_status() == "finished" and job.get_status(refresh=False) == "finished"
    assert isinstance(job.get_status(), impl.api.JobStatus)


def test_it_counts_lists_empties_and_deletes_the_queue(impl):
    queue = impl.queue()
    jobs = [queue.enqueue(rq_jobs.add, n, n) for n in range(3)]
    assert queue.count == len(queue) == 3 and queue.job_ids == [job.id for job in jobs]
    assert [job.id for job in queue.jobs] == queue.job_ids and not queue.is_empty()
    assert queue.get_job_position(jobs[1]) == 1 and jobs[2].get_position() == 2
    assert queue.empty() == 3 and queue.count == 0
    assert not impl.api.Job.exists(jobs[0].id, connection=impl.redis)
    last = queue.enqueue(rq_jobs.add, 1, 1)
    assert queue in impl.api.Queue.all(connection=impl.redis)
    queue.delete(delete_jobs=True)
    assert queue not in impl.api.Queue.all(connection=impl.redis) and queue.count == 0
    impl.run(until=impl.drained)  # let the workers see what is left of the emptied and deleted jobs
    for job in [*jobs, last]:  # none of them ran, and nothing came back
        assert not impl.api.Job.exists(job.id, connection=impl.redis) and job.latest_result() is None
    assert queue not in impl.api.Queue.all(connection=impl.redis) and queue.count == 0


def test_it_puts_at_front_jobs_first(impl):
    queue = impl.queue()
    first = queue.enqueue(rq_jobs.append, "order:front", "first")
    last = queue.enqueue(rq_jobs.append, "order:front", "last")
    urgent = queue.enqueue(rq_jobs.append, "order:front", "urgent", at_front=True)
    assert queue.job_ids == [urgent.id, first.id, last.id]
    impl.run(first, last, urgent)
    order = [tag.decode() for tag in impl.redis.lrange("order:front", 0, -1)]
    assert sorted(order) == ["first", "last", "urgent"] and order.index("urgent") < order.index("last")


def test_it_enqueues_through_the_job_decorator(impl):
    decorator = __import__(
        "app.tasks.rq_compat.decorators" if impl.name == "celery" else "rq.decorators", fromlist=["job"]
    ).job
    delayed = decorator(impl.queue_name, connection=impl.redis, result_ttl=77)(rq_jobs.echo)
    job = delayed.delay(1, key="v", job_id=impl.uid("decorated"))
    assert job.result_ttl == 77 and job.id.startswith("decorated-")
    impl.run(job)
    assert job.return_value() == {"args": [1], "kwargs": {"key": "v"}}


def test_it_publishes_only_when_the_callers_pipeline_commits(impl):
    queue = impl.queue()
    with impl.redis.pipeline() as pipe:
        jobs = queue.enqueue_many(
            [impl.api.Queue.prepare_data(rq_jobs.add, (1, 1)), impl.api.Queue.prepare_data(rq_jobs.add, (2, 2))],
            pipeline=pipe,
        )
        assert queue.count == 0 and not impl.api.Job.exists(jobs[0].id, connection=impl.redis)
        pipe.execute()
    assert queue.job_ids == [job.id for job in jobs]
    impl.run(*jobs)
    assert [job.return_value() for job in jobs] == [2, 4]


def test_it_enqueues_a_job_made_with_job_create(impl):
    job = impl.api.Job.create(rq_jobs.add, args=(4, 4), connection=impl.redis, result_ttl=60)
    assert job.get_status(refresh=False) == "created"
    impl.queue().enqueue_job(job)
    assert job.origin == impl.queue_name and job.get_status() == "queued"
    impl.run(job)
    assert job.return_value() == 8
