"""Stopping a job's whole Ansible process tree, including workers that left its process group."""

from __future__ import annotations

import os
import signal
import time

import psutil

GRACE_SECONDS = 5.0
_PSUTIL_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


def _alive(proc: psutil.Process) -> bool:
    """True if the process runs and is not a zombie waiting to be reaped."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except _PSUTIL_GONE:
        return False


def _children(proc: psutil.Process) -> list[psutil.Process]:
    """All descendants of proc, or [] if it is gone."""
    try:
        return proc.children(recursive=True)
    except _PSUTIL_GONE:
        return []


def _signal(proc: psutil.Process, sig: int) -> None:
    """Send sig to proc; psutil refuses if the pid was reused, and a gone process is fine."""
    try:
        proc.send_signal(sig)
    except _PSUTIL_GONE:
        pass


def _mentions(proc: psutil.Process, marker: str) -> bool:
    """True if proc's command line contains marker (the per-job directory)."""
    try:
        return any(marker in arg for arg in proc.cmdline())
    except _PSUTIL_GONE:
        return False


def _environ_mentions(proc: psutil.Process, marker: str) -> bool:
    """True if one of proc's environment variables contains marker."""
    try:
        return any(marker in value for value in proc.environ().values())
    except _PSUTIL_GONE:
        return False


def cmdline_mentions(marker: str) -> list[psutil.Process]:
    """Every other process whose command line contains marker."""
    return [p for p in psutil.process_iter() if p.pid != os.getpid() and _mentions(p, marker)]


def stop_leftovers(marker: str, rounds: int = 5) -> None:
    """Terminate, then kill, every process whose command line or environment mentions marker (a job dir).

    For a job whose guard died too: its processes are then children of init, and only what they carry
    tells whose they are. The module and the command it runs (the `sleep`) have no job path in their
    command line, but they inherit TMPDIR and ANSIBLE_*_TEMP from ansible-playbook. Repeated, as in
    ProcessTree.reap, for a process that forks while being stopped."""
    for _ in range(rounds):
        procs = [
            p
            for p in psutil.process_iter()
            if p.pid != os.getpid() and (_mentions(p, marker) or _environ_mentions(p, marker))
        ]
        if not procs:
            return
        terminate_all(procs)


def terminate_all(procs: list[psutil.Process], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the processes, wait up to grace seconds, SIGKILL the rest."""
    procs = [p for p in procs if _alive(p)]
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    for proc in _wait_dead(procs, grace):
        _signal(proc, signal.SIGKILL)
    _wait_dead(procs, 1.0)


def _wait_dead(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until no process is alive or timeout; return those still alive."""
    # Not psutil.wait_procs: it counts a zombie as running, and an orphan stays a zombie until
    # PID 1 reaps it (about a second with this machine's init).
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _alive(p)]
    return alive


class ProcessTree:
    """Stops ansible-playbook and everything it started."""

    # ansible-core 2.19 puts its workers in their own sessions, so ansible-runner's killpg misses
    # them: we SIGTERM the guard (guard.py), which passes it on to ansible-playbook and then stops
    # every process of the job, all of which it holds as their subreaper. We still remember
    # descendants, so that survivors can be killed afterwards if the guard itself had to be killed.

    def __init__(self, marker: str, grace: float = GRACE_SECONDS) -> None:
        self._marker, self._grace = marker, grace
        self._guards: list[psutil.Process] = []
        self._known: dict[int, psutil.Process] = {}
        self._deadline: float | None = None
        self._done = False

    def stop(self) -> None:
        """Begin stopping: snapshot the tree, then SIGTERM the guard of ansible-playbook."""
        if self._deadline is not None:
            return
        self._deadline = time.monotonic() + self._grace
        # our direct child whose command line names the job dir is this job's guard
        self._guards = [p for p in psutil.Process().children() if _mentions(p, self._marker)]
        self._remember()
        for proc in self._guards:
            _signal(proc, signal.SIGTERM)

    def stopped(self) -> bool:
        """True once the guard has exited or the grace period is over (sticky)."""
        self._remember()
        if not self._done:
            gone = not any(_alive(p) for p in self._guards)
            self._done = gone or time.monotonic() >= (self._deadline or 0)
        return self._done

    def reap(self, rounds: int = 5) -> None:
        """Terminate, then kill, every remembered process or process mentioning the job dir.

        Repeated: a dying ansible-playbook can still fork a worker while we wait for it, and that
        orphan would otherwise outlive the job."""
        for _ in range(rounds):
            self._remember()
            procs = {p.pid: p for p in cmdline_mentions(self._marker)}
            procs.update(self._known)
            alive = [p for p in procs.values() if _alive(p)]
            if not alive:
                return
            terminate_all(alive, self._grace)

    def _remember(self) -> None:
        """Add current descendants of every known process (new workers, modules, commands)."""
        for proc in self._guards + list(self._known.values()):
            for child in _children(proc):
                self._known.setdefault(child.pid, child)
