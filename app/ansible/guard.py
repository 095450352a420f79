"""Runs ansible-playbook for one job so that no process of the job outlives the worker that started it.

Why a separate process: ansible-runner (pexpect) starts ansible-playbook in a session of its own and
ansible-core 2.19 moves its workers into further sessions, so when the worker process running the job dies
(SIGKILL, OOM killer, Celery's hard time limit) no signal reaches them: they re-parent to init and keep
working on hosts whose locks the reaper then frees. ansible-runner starts this guard in place of
ansible-playbook (see `write_shim` in runner.py); the guard starts the real one and
- asks the kernel (PR_SET_PDEATHSIG) for SIGUSR1 when the thread that started it dies, however it dies;
- becomes a child subreaper (PR_SET_CHILD_SUBREAPER): a process of the job whose parent exits re-parents
  to the guard instead of init, whatever session it moved to, so the guard's descendants are exactly the
  job's processes (ansible-playbook, its forks, modules, their commands, ssh masters) and none slips away;
- then, on that signal, or once ansible-playbook has exited, stops every descendant and, if orphaned,
  removes the job's work dir.
SIGTERM/SIGINT (a cancel or timeout from the runner) are passed on to ansible-playbook. The file is run by
path with `python -I`, so it loads nothing of the app; only psutil besides the standard library.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import time
from types import FrameType

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
DEATH_SIGNAL = signal.SIGUSR1
GRACE_SECONDS = 3.0  # below ProcessTree's 5 s, so a cancel finds the guard gone, not SIGKILLed


class Orphaned(Exception):
    """The worker process that started the guard is gone."""


def _prctl(option: int, value: int) -> None:
    """Call prctl(2); fail loudly, a guard that cannot guard must not run the job."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _orphaned(signum: int, frame: FrameType | None) -> None:
    """PR_SET_PDEATHSIG fired: leave the wait loop."""
    raise Orphaned


def _forward_to(pid: int) -> None:
    """Pass SIGTERM and SIGINT on to ansible-playbook (the runner's cancel and timeout)."""

    def forward(signum: int, frame: FrameType | None) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)


def _wait_for(pid: int) -> int:
    """Reap children (orphans of the job re-parent to us) until `pid` exits; return its wait status."""
    while True:
        done, status = os.waitpid(-1, 0)
        if done == pid:
            return status


def _reap() -> None:
    """Collect every exited child without blocking."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _living_descendants() -> list[psutil.Process]:
    """Descendants that still run (zombies are only waiting for a reap)."""
    alive = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.Error:
            pass
    return alive


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    """Send sig to each process that is still there."""
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def stop_descendants(grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every descendant, SIGKILL what is left after `grace`, until none is left (they all come to us)."""
    _signal_all(_living_descendants(), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive := _living_descendants():
        if time.monotonic() >= deadline:
            _signal_all(alive, signal.SIGKILL)
        time.sleep(0.02)
        _reap()
    _reap()


def _exit_like(status: int) -> None:
    """End the guard the way ansible-playbook ended, so ansible-runner sees the same rc."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def _start_guarding(parent: int) -> None:
    """Arm the death signal and the subreaper; stop at once if the parent is already gone."""
    signal.signal(DEATH_SIGNAL, _orphaned)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, DEATH_SIGNAL)
    if os.getppid() != parent:  # it died before the prctl: the kernel will not tell us any more
        raise Orphaned


def _spawn(command: list[str]) -> int:
    """Start ansible-playbook with SIGTERM/SIGINT held back until they can be forwarded to it."""
    held = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    pid = os.posix_spawn(command[0], command, os.environ, setsigmask=())
    _forward_to(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    return pid


def main(argv: list[str]) -> None:
    """guard.py PARENT_PID WORK_DIR ANSIBLE_PLAYBOOK [ARGS...]"""
    parent, work_dir, command = int(argv[1]), argv[2], argv[3:]
    try:
        _start_guarding(parent)
        status = _wait_for(_spawn(command))
    except Orphaned:
        signal.signal(DEATH_SIGNAL, signal.SIG_IGN)
        stop_descendants()
        shutil.rmtree(work_dir, ignore_errors=True)
        sys.exit(1)
    signal.signal(DEATH_SIGNAL, signal.SIG_IGN)  # stopping everything now either way
    stop_descendants()  # what ansible-playbook left: ssh ControlPersist masters, workers it did not wait for
    _exit_like(status)


if __name__ == "__main__":
    main(sys.argv)
