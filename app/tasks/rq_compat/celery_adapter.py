"""Every use of Celery's internals, in one module; tests/test_rq_compat_adapter.py checks each against the
pinned Celery (INTERNALS below) and names the one that changed.

What the RQ-compatible API needs that Celery has no public hook for:
- tasks made on first sight of a name: the app's TaskRegistry (`Celery._tasks`, a dict) answers a missing
  name through `__missing__`, and the worker consumer's `strategies` dict does the same, so an RQ job is
  run under its function's own name without registering every function beforehand;
- a task added after the worker started needs its tracer (`build_tracer`, stored as `Task.__trace__`), as
  Celery builds it for the tasks it knew at start;
- the worker's Request hooks (`on_timeout`, `on_failure`, `_already_revoked`, `_already_cancelled`, `_app`)
  tell that the pool killed a job (stop, hard time limit, lost child) so its outcome can be recorded;
- `saferepr` gives Flower the same argument text Celery's own `delay()` does.
Nothing here knows about RQ: the package passes in its names, its runner and its Request subclass.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from billiard.exceptions import WorkerLostError
from celery import Celery, bootsteps
from celery.app.registry import TaskRegistry
from celery.app.task import Task
from celery.app.trace import build_tracer
from celery.exceptions import Terminated
from celery.utils.saferepr import saferepr
from celery.worker.consumer import Consumer
from celery.worker.request import Request

if TYPE_CHECKING:
    from billiard.einfo import ExceptionInfo

__all__ = ["INTERNALS", "KillAwareRequest", "install_task_factory", "saferepr"]
TaskFactory = Callable[[Celery, str], Task]


class OnDemandTaskRegistry(TaskRegistry):
    """Celery's task registry, plus: a name `accepts` approves becomes a task made by `factory`."""

    def __init__(self, app: Celery, accepts: Callable[[str], bool], factory: TaskFactory) -> None:
        super().__init__()
        self.app, self.accepts, self.factory = app, accepts, factory

    def __missing__(self, name: str) -> Task:
        if not self.accepts(name):
            raise self.NotRegistered(name)
        if name in self:  # registered while the factory ran
            return dict.__getitem__(self, name)
        return self.factory(self.app, name)


class OnDemandStrategies(dict[str, Any]):
    """The consumer's name -> strategy map, filled in on first sight of a task name."""

    def __init__(self, consumer: Consumer) -> None:
        super().__init__()
        self.consumer = consumer

    def __missing__(self, name: str) -> Any:
        app = self.consumer.app
        task = app.tasks[name]  # NotRegistered is a KeyError: the consumer then rejects the message as usual
        self[name] = task.start_strategy(app, self.consumer)
        task.__trace__ = build_tracer(name, task, app.loader, self.consumer.hostname, app=app)
        return self[name]


class OnDemandStrategiesStep(bootsteps.Step):
    """Consumer step installing OnDemandStrategies before the consumer starts."""

    name = "rq_compat.OnDemandStrategies"

    def __init__(self, parent: Consumer, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        parent.strategies = OnDemandStrategies(parent)


def install_task_factory(app: Celery, accepts: Callable[[str], bool], factory: TaskFactory) -> None:
    """Have `app` (and its workers) make a task on first sight of any name `accepts` approves."""
    if isinstance(app._tasks, OnDemandTaskRegistry):
        return
    if "tasks" in app.__dict__:  # app.tasks was read (the app is finalized): too late to swap the registry
        raise RuntimeError("init_app() must run before the Celery app is finalized")
    registry = OnDemandTaskRegistry(app, accepts, factory)
    registry.update(app._tasks)
    app._tasks = registry
    app.steps["consumer"].add(OnDemandStrategiesStep)


def make_task(app: Celery, name: str, body: Callable[..., Any], request_class: type[Request]) -> Task:
    """A task registered under `name` now, with its tracer built (the pool children need it)."""
    task = app.task(
        name=name,
        bind=True,
        shared=False,
        lazy=False,
        Request=request_class,
        ignore_result=True,
        track_started=False,
        typing=False,
    )(body)
    task.__trace__ = build_tracer(name, task, app.loader, None, app=app)
    return task


class KillAwareRequest(Request):
    """A worker request that calls killed(reason, detail) when the pool killed its task's process."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Hard limit: the child is gone."""
        super().on_timeout(soft, timeout)
        if not soft:
            self.killed("timeout", f"{timeout:g}")

    def on_failure(self, exc_info: ExceptionInfo, send_failed_event: bool = True, return_ok: bool = False) -> None:
        """A child killed by revoke(terminate=True) means a stop; any other lost child, a loss."""
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        if self._already_cancelled:  # connection loss: Celery delivers the message again
            return
        if isinstance(exc, Terminated) or self._already_revoked:
            self.killed("stopped", "")
        elif isinstance(exc, WorkerLostError):
            self.killed("lost", str(exc))

    def killed(self, reason: str, detail: str) -> None:
        """Override: the task's process was killed ('timeout', 'stopped' or 'lost')."""

    @property
    def celery_app(self) -> Celery:
        """The app this request belongs to."""
        return self._app

    @property
    def queue_name(self) -> str:
        """The queue the message came from."""
        return str((self.delivery_info or {}).get("routing_key") or "default")


def _has_parameters(function: Callable[..., Any], *names: str) -> bool:
    """True when `function` takes these parameters, in this order, first."""
    return list(inspect.signature(function).parameters)[: len(names)] == list(names)


# (internal, check): each must hold for the code above to work; the adapter test runs them all.
INTERNALS: list[tuple[str, Callable[[], bool]]] = [
    ("Celery._tasks (the app's TaskRegistry)", lambda: isinstance(Celery(set_as_current=False)._tasks, TaskRegistry)),
    ("TaskRegistry is a dict answering missing names via __missing__", lambda: "__missing__" in vars(TaskRegistry)),
    ("Celery.tasks is a cached property stored in the instance __dict__", lambda: _tasks_is_cached()),
    ("Consumer.strategies (the name -> strategy dict)", lambda: "self.strategies = " in inspect.getsource(Consumer)),
    ("Consumer.update_strategies", lambda: "self.strategies[name]" in inspect.getsource(Consumer.update_strategies)),
    ("Task.start_strategy(app, consumer)", lambda: _has_parameters(Task.start_strategy, "self", "app", "consumer")),
    ("Task.__trace__", lambda: "__trace__" in vars(Task)),
    ("celery.app.trace.build_tracer(name, task, loader, hostname)", lambda: _build_tracer_shape()),
    ("Request.on_timeout(soft, timeout)", lambda: _has_parameters(Request.on_timeout, "self", "soft", "timeout")),
    ("Request.on_failure(exc_info, send_failed_event, return_ok)", lambda: _on_failure_shape()),
    ("Request._already_revoked", lambda: vars(Request).get("_already_revoked") is False),
    ("Request._already_cancelled", lambda: vars(Request).get("_already_cancelled") is False),
    ("Request._app", lambda: "self._app = " in inspect.getsource(Request.__init__)),
    ("celery.utils.saferepr.saferepr(obj, maxlen)", lambda: _has_parameters(saferepr, "o", "maxlen")),
]


def _tasks_is_cached() -> bool:
    """Celery.tasks caches the registry in the instance (install_task_factory checks for that)."""
    app = Celery(set_as_current=False)
    registry = app.tasks
    return app.__dict__.get("tasks") is registry and registry is app._tasks


def _build_tracer_shape() -> bool:
    """build_tracer takes (name, task, loader, hostname, ..., app=)."""
    parameters = inspect.signature(build_tracer).parameters
    return _has_parameters(build_tracer, "name", "task", "loader", "hostname") and "app" in parameters


def _on_failure_shape() -> bool:
    """Request.on_failure takes (exc_info, send_failed_event, return_ok)."""
    return _has_parameters(Request.on_failure, "self", "exc_info", "send_failed_event", "return_ok")
