"""Run one playbook in-process with ansible-runner: batched events, cancel/timeout, no orphans."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ansible_runner
import ansible_runner.interface
import yaml
from ansible_runner.exceptions import CallbackError

from app.ansible.inventory import check_limit
from app.ansible.processes import ProcessTree, cmdline_mentions, terminate_all
from app.ansible.variables import dump_as_data

GUARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guard.py")

EventSink = Callable[[list[dict[str, Any]]], None]
# What ansible-playbook may inherit from the worker's environment (everything else is dropped).
INHERITED_OK = re.compile(
    r"^(HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|SSH_AUTH_SOCK|ANSIBLE_[A-Z0-9_]+"
    r"|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY)$"
)

STATUSES = ("successful", "failed", "canceled", "timed_out")
FAILED_EVENTS = frozenset(
    {"runner_on_failed", "runner_on_unreachable", "runner_item_on_failed", "runner_on_async_failed"}
)
# ansible-runner's r.stats keys -> ours.
STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


@dataclass
class RunSpec:
    """What to run: a validated playbook path, a YAML-shaped inventory dict and CLI options."""

    playbook_path: str
    inventory: dict[str, Any]
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    forks: int = 5
    timeout: float | None = None
    host_key_checking: bool = False
    ssh_args: str | None = None


@dataclass
class RunResult:
    """Outcome of a run: status is one of STATUSES; stats are per host."""

    status: str
    rc: int | None
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    failed_hosts: list[str] = field(default_factory=list)


class EventBatcher:
    """Hands events to a sink in batches: every `max_events` events or `max_delay` seconds, and on flush()."""

    def __init__(
        self, sink: EventSink, max_events: int = 50, max_delay: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sink, self._max_events, self._max_delay, self._clock = sink, max_events, max_delay, clock
        self._pending: list[dict[str, Any]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()

    def add(self, event: dict[str, Any]) -> None:
        """Queue one event; flush if the batch is full or old enough."""
        with self._lock:
            if not self._pending:
                self._oldest = self._clock()
            self._pending.append(event)
        if len(self._pending) >= self._max_events:
            self.flush()
        else:
            self.tick()

    def tick(self) -> None:
        """Flush if the oldest queued event has waited `max_delay` seconds."""
        if self._pending and self._clock() - self._oldest >= self._max_delay:
            self.flush()

    def flush(self) -> None:
        """Hand every queued event to the sink now."""
        with self._lock:
            batch, self._pending = self._pending, []
            if batch:
                self._sink(batch)


def to_event(data: dict[str, Any]) -> dict[str, Any]:
    """Reduce an ansible-runner event to the fields we store."""
    event_data = data.get("event_data") or {}
    name = data.get("event", "")
    failed = name in FAILED_EVENTS and not event_data.get("ignore_errors")
    return {
        "counter": int(data.get("counter", 0)),
        "event": name,
        "host": event_data.get("host") or None,
        "task": event_data.get("task") or None,
        "stdout": data.get("stdout") or "",
        "failed": bool(failed),
    }


class _Watchdog:
    """ansible-runner's cancel_callback: heartbeats, batch ticks, cancel and timeout."""

    def __init__(
        self,
        spec: RunSpec,
        should_cancel: Callable[[], bool],
        on_tick: Callable[[], None] | None,
        batcher: EventBatcher,
        tree: ProcessTree,
    ) -> None:
        self._timeout, self._should_cancel, self._on_tick = spec.timeout, should_cancel, on_tick
        self._batcher, self._tree = batcher, tree
        self._started = time.monotonic()
        self._last_tick = float("-inf")
        self.reason: str | None = None

    def __call__(self) -> bool:
        """Return True once a cancel/timeout was requested and ansible-playbook is gone."""
        self._heartbeat()
        self._batcher.tick()
        if self.reason is None:
            self.reason = self._check()
            if self.reason:
                self._tree.stop()
        return self.reason is not None and self._tree.stopped()

    def _heartbeat(self) -> None:
        """Call on_tick at most once per second."""
        now = time.monotonic()
        if self._on_tick and now - self._last_tick >= 1.0:
            self._last_tick = now
            self._on_tick()

    def _check(self) -> str | None:
        """'canceled' or 'timed_out' when the run must stop, else None."""
        if self._should_cancel():
            return "canceled"
        if self._timeout is not None and time.monotonic() - self._started >= self._timeout:
            return "timed_out"
        return None


@dataclass
class JobDirs:
    """Per-job directories under work_dir; temp dirs live here so they can be removed per job."""

    work_dir: str

    def path(self, name: str) -> str:
        """Absolute path of a sub-directory of work_dir."""
        return os.path.join(os.path.abspath(self.work_dir), name)

    def create(self) -> None:
        """Create the private data dir and the temp dirs."""
        for name in ("private/inventory", "private/env", "local-tmp", "remote-tmp", "cp", "tmp", "bin"):
            os.makedirs(self.path(name), mode=0o700, exist_ok=True)

    def cleanup(self) -> None:
        """Remove everything we created (artifacts, temp files, control sockets)."""
        for name in ("private", "local-tmp", "remote-tmp", "cp", "tmp", "bin"):
            shutil.rmtree(self.path(name), ignore_errors=True)


def build_env(spec: RunSpec, dirs: JobDirs) -> dict[str, str]:
    """Environment for ansible-playbook: job-scoped temp dirs, colours on, host key policy."""
    env = {
        "ANSIBLE_LOCAL_TEMP": dirs.path("local-tmp"),
        "ANSIBLE_REMOTE_TEMP": dirs.path("remote-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": dirs.path("cp"),
        # AnsiballZ unpacks into tempfile.gettempdir() on localhost; keep that per job too.
        "TMPDIR": dirs.path("tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": str(bool(spec.host_key_checking)),
        "ANSIBLE_FORCE_COLOR": "1",
        "ANSIBLE_NOCOLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # ansible-runner spawns `ansible-playbook` from PATH: the guard's shim comes first
        "PATH": os.pathsep.join([dirs.path("bin"), _search_path()]),
    }
    if spec.ssh_args is not None:
        env["ANSIBLE_SSH_ARGS"] = spec.ssh_args
    return env


def scrub_env(env: dict[str, str], inherited: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
    """ansible-runner's environment for ansible-playbook without what the worker inherited, except INHERITED_OK."""
    # ansible-runner starts from a copy of this process's environment, which holds the app's own secrets
    # (SECRET_KEY, DATABASE_URL, REDIS_URL, ...). Keep what we or ansible-runner set, and a few harmless basics.
    return {
        name: value
        for name, value in env.items()
        if name in ours or inherited.get(name) != value or INHERITED_OK.match(name)
    }


def _search_path() -> str:
    """PATH to find the real ansible-playbook on; an unactivated venv's bin is not on the usual one."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)])


def write_shim(dirs: JobDirs) -> None:
    """Write the `ansible-playbook` that ansible-runner starts: the real one under guard.py (see there why)."""
    real = shutil.which("ansible-playbook", path=_search_path())
    if real is None:
        raise FileNotFoundError("ansible-playbook is not installed next to this Python or on PATH")
    # this process spawns it (ansible_runner.run() forks from the calling thread), and the kernel's
    # parent-death signal follows that thread: call run_playbook from one that lives as long as the run
    # (Celery's prefork pool runs tasks on its processes' main threads)
    guard = [sys.executable, "-I", GUARD, str(os.getpid()), os.path.abspath(dirs.work_dir), real]
    path = dirs.path("bin/ansible-playbook")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f'#!/bin/sh\nexec {shlex.join(guard)} "$@"\n')
    os.chmod(path, 0o700)


def _write_inventory(spec: RunSpec, dirs: JobDirs) -> str:
    """Write the inventory as YAML into the private data dir, every variable value as data; return its path."""
    path = os.path.join(dirs.path("private/inventory"), "hosts.yml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dump_as_data(spec.inventory))
    return path


def _write_extra_vars(spec: RunSpec, dirs: JobDirs) -> None:
    """Write the extra vars where ansible-runner passes them on as `-e @file`, every value as data."""
    # Given as a dict instead, ansible-runner would pass them as JSON on the command line, where Ansible
    # templates them: `{{ lookup('pipe', ...) }}` in a value would run on this machine.
    if spec.extra_vars:
        with open(os.path.join(dirs.path("private/env"), "extravars"), "w", encoding="utf-8") as fh:
            fh.write(dump_as_data(spec.extra_vars))


def _write_settings(dirs: JobDirs) -> dict[str, Any]:
    """Write env/settings and return the same settings."""
    # ansible-runner 2.4.3 drops the `settings` keyword when env/settings does not exist
    # (prepare_env resets them to {} on ConfigurationError), so the file is what counts.
    settings = {"pexpect_timeout": 0.2, "suppress_ansible_output": True, "suppress_output_file": True}
    with open(os.path.join(dirs.path("private/env"), "settings"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(settings, fh)
    return settings


def _cmdline(spec: RunSpec) -> str | None:
    """Extra ansible-playbook flags not covered by ansible-runner keyword arguments."""
    flags = [flag for flag, on in (("--check", spec.check), ("--diff", spec.diff)) if on]
    return shlex.join(flags) or None


def _runner_kwargs(spec: RunSpec, dirs: JobDirs, batcher: EventBatcher, watchdog: _Watchdog) -> dict[str, Any]:
    """Keyword arguments for ansible_runner.run()."""

    def handle(data: dict[str, Any]) -> bool:
        batcher.add(to_event(data))
        return True  # False would stop ansible-runner saving events, and r.stats would be None

    _write_extra_vars(spec, dirs)
    return {
        "private_data_dir": dirs.path("private"),
        # cwd = the playbook's directory, so a project ansible.cfg there applies as usual
        "project_dir": os.path.dirname(spec.playbook_path),
        "playbook": spec.playbook_path,
        "inventory": _write_inventory(spec, dirs),
        "limit": check_limit(spec.limit) or None,
        "tags": spec.tags or None,
        "skip_tags": spec.skip_tags or None,
        "forks": spec.forks,
        "cmdline": _cmdline(spec),
        "envvars": build_env(spec, dirs),
        # the env would otherwise be written to env/envvars and the `starting` status carries it
        "suppress_env_files": True,
        "settings": _write_settings(dirs),
        "quiet": True,
        "event_handler": handle,
        "cancel_callback": watchdog,
    }


def collect_stats(raw: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """Turn ansible-runner's {category: {host: n}} stats into {host: {our_name: n}}."""
    raw = raw or {}
    hosts = {h for cat in list(STATS_KEYS) + ["processed"] for h in (raw.get(cat) or {})}
    return {
        host: {ours: int((raw.get(theirs) or {}).get(host, 0)) for theirs, ours in STATS_KEYS.items()}
        for host in sorted(hosts)
    }


def _status(runner_status: str, reason: str | None) -> str:
    """Map ansible-runner's status (and our stop reason) onto STATUSES."""
    if reason:
        return reason  # we signalled ansible-playbook, whatever it reported afterwards
    return {"successful": "successful", "canceled": "canceled", "timeout": "timed_out"}.get(runner_status, "failed")


def _result(r: Any, reason: str | None) -> RunResult:
    """Build the RunResult from a finished ansible-runner Runner."""
    stats = collect_stats(r.stats)
    failed = [h for h, s in stats.items() if s["failed"] or s["unreachable"]]
    return RunResult(status=_status(r.status, reason), rc=r.rc, stats=stats, failed_hosts=failed)


def run_playbook(
    spec: RunSpec,
    work_dir: str,
    on_events: EventSink,
    should_cancel: Callable[[], bool],
    on_tick: Callable[[], None] | None = None,
) -> RunResult:
    """Run spec's playbook in the foreground; events go to on_events in batches."""
    dirs = JobDirs(work_dir)
    dirs.create()
    write_shim(dirs)
    batcher = EventBatcher(on_events)
    tree = ProcessTree(dirs.path(""))
    watchdog = _Watchdog(spec, should_cancel, on_tick, batcher, tree)
    finished = False
    try:
        r = _run_unwrapped(_runner_kwargs(spec, dirs, batcher, watchdog))
        batcher.flush()
        finished = True
        return _result(r, watchdog.reason)
    finally:
        _cleanup(tree, dirs, aborted=not finished or watchdog.reason is not None)


def _run_unwrapped(kwargs: dict[str, Any]) -> Any:
    """ansible_runner.run() with a scrubbed environment, re-raising our callbacks' exceptions (not CallbackError)."""
    runner = ansible_runner.interface.init_runner(**kwargs)
    runner.config.env = scrub_env(runner.config.env, dict(os.environ), kwargs["envvars"])
    try:
        runner.run()
        return runner
    except CallbackError as exc:
        if exc.__cause__ is not None:
            raise exc.__cause__ from None
        raise


def _cleanup(tree: ProcessTree, dirs: JobDirs, aborted: bool) -> None:
    """Leave no process and no temp file of this job behind."""
    if aborted:
        tree.stop()  # no-op if the cancel path already ran; needed when a callback raised
        while not tree.stopped():  # bounded: stopped() turns True after the grace period
            time.sleep(0.05)
        tree.reap()
    else:
        # a normal end leaves only SSH ControlPersist masters, whose sockets we are about to delete
        terminate_all(cmdline_mentions(dirs.path("cp")))
    dirs.cleanup()
