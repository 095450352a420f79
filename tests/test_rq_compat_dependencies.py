"""RQ conformance: depends_on and Dependency."""

from __future__ import annotations

from datetime import timedelta

from tests import rq_jobs

pytest_plugins = ["tests.test_rq_compat_support"]


def test_it_defers_a_dependent_until_its_parent_finishes(impl):
    queue = impl.queue()
    parent = queue.enqueue(rq_jobs.append, "order:deps", "parent")
    child = queue.enqueue(rq_jobs.append, "order:deps", "child", depends_on=parent)
    assert child.get_status() == "deferred" and child.is_deferred
    assert child.id in queue.deferred_job_registry and queue.job_ids == [parent.id]
    assert child.dependency == parent and parent.dependent_ids == [child.id]
    impl.run(parent, child)
    assert (parent.get_status(), child.get_status()) == ("finished", "finished")
    assert impl.redis.lrange("order:deps", 0, -1) == [b"parent", b"child"]
    assert queue.deferred_job_registry.count == 0


def test_it_waits_for_every_dependency(impl):
    queue = impl.queue()
    first, second = queue.enqueue(rq_jobs.add, 1, 1), queue.enqueue(rq_jobs.add, 2, 2)
    child = queue.enqueue(rq_jobs.add, 3, 3, depends_on=[first, second.id])
    assert child.get_status() == "deferred"
    impl.run(first, second, child)
    assert child.get_status() == "finished" and child.return_value() == 6


def test_it_queues_at_once_when_the_dependency_already_finished(impl):
    queue = impl.queue()
    parent = queue.enqueue(rq_jobs.add, 1, 1)
    impl.run(parent)
    impl.pause()
    child = queue.enqueue(rq_jobs.add, 2, 2, depends_on=parent)
    assert child.get_status() == "queued" and queue.job_ids == [child.id]
    impl.run(child)


def test_it_leaves_dependents_deferred_when_the_parent_fails(impl):
    queue = impl.queue()
    parent = queue.enqueue(rq_jobs.fail)
    strict = queue.enqueue(rq_jobs.add, 1, 1, depends_on=parent)
    lenient = queue.enqueue(rq_jobs.add, 2, 2, depends_on=impl.api.Dependency(jobs=[parent], allow_failure=True))
    # The parent's failure is recorded first, its dependents are released right after (as in RQ): wait for both.
    impl.run(until=lambda: impl.settled(parent) and impl.settled(lenient) and not lenient.is_deferred)
    assert parent.get_status() == "failed" and lenient.get_status() == "finished"
    assert strict.get_status() == "deferred" and strict.id in queue.deferred_job_registry


def test_it_runs_a_dependent_on_its_own_queue(impl):
    parent = impl.queue().enqueue(rq_jobs.add, 1, 2)
    other = impl.queue(impl.other_queue)
    child = other.enqueue(rq_jobs.describe_self, depends_on=parent)
    assert child.id in other.deferred_job_registry
    impl.run(parent, child)
    assert child.return_value()["origin"] == impl.other_queue


def test_it_releases_dependents_of_a_canceled_job_only_when_asked(impl):
    queue = impl.queue()
    parent = queue.enqueue_in(timedelta(hours=1), rq_jobs.add, 1, 1)
    other = queue.enqueue(rq_jobs.add, 5, 5)
    child = queue.enqueue(rq_jobs.add, 2, 2, depends_on=[parent, other])
    impl.run(other)
    assert child.get_status() == "deferred"
    parent.cancel(enqueue_dependents=True)
    impl.run(child)
    assert parent.get_status() == "canceled" and child.get_status() == "finished"
