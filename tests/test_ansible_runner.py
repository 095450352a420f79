"""Real ansible-runner runs against localhost (ansible_connection=local) and a loopback sshd."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.ansible.runner import EventBatcher, RunResult, RunSpec, run_playbook
from tests.services import ROOT, wait_for
from tests.sshd import LoopbackSSHD

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


class Recorder:
    """Collects event batches; can ask for a cancel once a given task has started."""

    def __init__(self, cancel_on_task: str | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.cancel_on_task = cancel_on_task
        self.cancel_requested_at: float | None = None
        self.ticks = 0

    def on_events(self, batch: list[dict[str, Any]]) -> None:
        self.batches.append(batch)
        started = any(e["event"] == "runner_on_start" and e["task"] == self.cancel_on_task for e in batch)
        if started and self.cancel_requested_at is None:
            self.cancel_requested_at = time.monotonic()

    def should_cancel(self) -> bool:
        return self.cancel_requested_at is not None

    def on_tick(self) -> None:
        self.ticks += 1

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch]

    def stdout(self) -> str:
        return "\n".join(e["stdout"] for e in self.events)


@pytest.fixture
def playbook(tmp_path: Path):
    """Write a one-play playbook (hosts: all, no facts) with the given tasks YAML; return its path."""

    def write(tasks: str, name: str = "play.yml") -> str:
        path = tmp_path / name
        body = textwrap.indent(textwrap.dedent(tasks).strip(), "    ")
        path.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{body}\n")
        return str(path)

    return write


@pytest.fixture
def work_dir(tmp_path: Path) -> str:
    path = tmp_path / "job-1"
    path.mkdir()
    return str(path)


@pytest.fixture
def sleep_arg() -> str:
    """A sleep duration unique to this test, so its process can be found by command line."""
    return f"30.{random.randint(100000, 999999)}"


def local_inventory(*names: str, **extra_hosts: dict[str, Any]) -> dict[str, Any]:
    hosts = {name: dict(LOCAL) for name in names}
    hosts.update(extra_hosts)
    return {"all": {"hosts": hosts}}


def survivors(*markers: str) -> list[str]:
    """Command lines of live (non-zombie) processes mentioning any marker."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["status"] != psutil.STATUS_ZOMBIE and any(m in cmdline for m in markers):
            found.append(f"{proc.pid}: {cmdline}")
    return found


def completed(recorder: Recorder, task: str) -> list[dict[str, Any]]:
    """The events that say `task` ran to its end on a host (a stopped task never reports ok)."""
    return [e for e in recorder.events if e["task"] == task and e["event"] == "runner_on_ok"]


def run(spec: RunSpec, work_dir: str, recorder: Recorder) -> RunResult:
    return run_playbook(spec, work_dir, recorder.on_events, recorder.should_cancel, recorder.on_tick)


def test_it_runs_a_playbook_and_reports_per_host_stats(playbook, work_dir):
    path = playbook("""
        - name: say hello
          debug: msg="hello {{ inventory_hostname }}"
        - name: change something
          command: "true"
        - name: skip me
          debug: msg=never
          when: false
    """)
    rec = Recorder()
    result = run(RunSpec(path, local_inventory("h1", "h2")), work_dir, rec)
    assert result.status == "successful"
    assert result.rc == 0
    assert result.failed_hosts == []
    expected = {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1, "rescued": 0, "ignored": 0}
    assert result.stats == {"h1": expected, "h2": expected}
    assert "hello h1" in rec.stdout() and "hello h2" in rec.stdout()
    assert "\x1b[" in rec.stdout()  # ANSIBLE_FORCE_COLOR: colours kept for the HTML renderer
    assert os.listdir(work_dir) == []  # private data dir and temp dirs removed


def test_it_reports_a_failing_task_as_failed_with_failed_hosts(playbook, work_dir):
    path = playbook("""
        - name: maybe fail
          fail: msg="boom on {{ inventory_hostname }}"
          when: inventory_hostname == 'bad'
        - name: ignored failure
          command: "false"
          ignore_errors: true
          when: inventory_hostname == 'good'
    """)
    rec = Recorder()
    result = run(RunSpec(path, local_inventory("good", "bad")), work_dir, rec)
    assert result.status == "failed"
    assert result.failed_hosts == ["bad"]
    assert result.stats["bad"]["failed"] == 1
    assert result.stats["good"]["failed"] == 0 and result.stats["good"]["ignored"] == 1
    failed = [(e["host"], e["task"]) for e in rec.events if e["failed"]]
    assert failed == [("bad", "maybe fail")]  # the ignored failure is not flagged


def test_it_reports_an_unreachable_host(playbook, work_dir):
    path = playbook("""
        - name: ping
          ping:
    """)
    dead = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_ssh_common_args": "-o ConnectTimeout=3",
    }
    rec = Recorder()
    result = run(RunSpec(path, local_inventory("alive", dead=dead)), work_dir, rec)
    assert result.status == "failed"
    assert result.failed_hosts == ["dead"]
    assert result.stats["dead"]["unreachable"] == 1
    assert result.stats["alive"]["ok"] == 1
    assert any(e["event"] == "runner_on_unreachable" and e["failed"] for e in rec.events)


def test_it_passes_limit_tags_extra_vars_and_check_mode(playbook, work_dir, tmp_path):
    target = tmp_path / "must-not-exist"
    path = playbook(f"""
        - name: tagged
          debug: msg="colour is {{{{ colour }}}}"
          tags: [a]
        - name: other tag
          debug: msg=untagged
          tags: [b]
        - name: would write a file
          copy: content=x dest={target}
          tags: [a]
    """)
    rec = Recorder()
    spec = RunSpec(
        path, local_inventory("h1", "h2"), limit="h1", tags="a", extra_vars={"colour": "teal"}, check=True, diff=True
    )
    result = run(spec, work_dir, rec)
    assert result.status == "successful"
    assert list(result.stats) == ["h1"]
    assert result.stats["h1"]["ok"] == 2 and result.stats["h1"]["changed"] == 1
    assert "colour is teal" in rec.stdout() and "untagged" not in rec.stdout()
    assert not target.exists()  # --check


def test_it_cancels_mid_run_and_leaves_no_process_behind(playbook, work_dir, sleep_arg):
    path = playbook(f"""
        - name: long sleep
          command: sleep {sleep_arg}
        - name: never reached
          debug: msg=unreachable
    """)
    rec = Recorder(cancel_on_task="long sleep")
    started = time.monotonic()
    result = run(RunSpec(path, local_inventory("h1")), work_dir, rec)
    assert rec.cancel_requested_at is not None
    assert result.status == "canceled"
    assert not completed(rec, "long sleep"), "the sleep ran to its end: the cancel did not stop it"
    assert survivors(sleep_arg, work_dir) == []
    assert "unreachable" not in rec.stdout()
    assert rec.ticks >= 1 and rec.ticks <= (time.monotonic() - started) + 1  # at most once per second
    # how fast the cancel lands is measured by bench/bench_ansible_runs.py, not asserted here


def test_it_times_out_and_leaves_no_process_behind(playbook, work_dir, sleep_arg):
    path = playbook(f"""
        - name: long sleep
          command: sleep {sleep_arg}
    """)
    rec = Recorder()
    started = time.monotonic()
    result = run(RunSpec(path, local_inventory("h1"), timeout=1.5), work_dir, rec)
    assert result.status == "timed_out"
    assert time.monotonic() - started >= 1.5  # never before the timeout (a loaded machine only adds to this)
    assert not completed(rec, "long sleep"), "the sleep ran to its end: the timeout did not stop it"
    assert survivors(sleep_arg, work_dir) == []
    assert os.listdir(work_dir) == []


def test_it_cleans_up_when_a_callback_raises(playbook, work_dir, sleep_arg):
    path = playbook(f"""
        - name: long sleep
          command: sleep {sleep_arg}
    """)

    def on_events(batch: list[dict[str, Any]]) -> None:
        if any(e["event"] == "runner_on_start" for e in batch):
            raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        run_playbook(RunSpec(path, local_inventory("h1")), work_dir, on_events, lambda: False)
    assert survivors(sleep_arg, work_dir) == []


RUN_IN_CHILD = """
import sys
from app.ansible.runner import RunSpec, run_playbook
inventory = {"all": {"hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                               for h in ("h1", "h2")}}}
run_playbook(RunSpec(sys.argv[1], inventory), sys.argv[2], lambda batch: None, lambda: False)
"""


def test_it_leaves_no_process_behind_when_the_process_running_it_is_killed(playbook, work_dir):
    sleep_arg = f"300.{random.randint(100000, 999999)}"  # outlives every wait below: only a kill ends it
    path = playbook(f"""
        - name: long sleep
          command: sleep {sleep_arg}
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", RUN_IN_CHILD, path, work_dir], env=env)
    try:
        wait_for(lambda: len(survivors(f"sleep {sleep_arg}")) == 2, timeout=60, message="both hosts' sleep")
    finally:
        child.send_signal(signal.SIGKILL)  # as the OOM killer or a hard time limit would
        child.wait()
    wait_for(lambda: survivors(sleep_arg, work_dir) == [], timeout=30, message="the job's processes to end")
    assert not os.path.exists(work_dir)  # the guard removes an orphaned job's files too


def test_it_delivers_events_in_ordered_batches_without_duplicates(playbook, work_dir):
    path = playbook("""
        - name: many items
          debug: msg="item {{ item }}"
          loop: "{{ range(40) | list }}"
    """)
    rec = Recorder()
    result = run(RunSpec(path, local_inventory("h1", "h2")), work_dir, rec)
    assert result.status == "successful"
    counters = [e["counter"] for e in rec.events]
    assert counters == sorted(set(counters))  # increasing, no duplicates
    assert counters[0] == 1 and counters[-1] == len(counters)  # and none lost
    assert len(rec.batches) >= 2 and all(1 <= len(b) <= 50 for b in rec.batches)
    assert rec.events[-1]["event"] == "playbook_on_stats"
    assert set(rec.events[0]) == {"counter", "event", "host", "task", "stdout", "failed"}


def test_it_batches_by_count_and_age():
    now = [0.0]
    batches: list[list[dict[str, Any]]] = []
    batcher = EventBatcher(batches.append, max_events=3, max_delay=0.5, clock=lambda: now[0])
    for i in range(4):
        batcher.add({"counter": i})
    assert [len(b) for b in batches] == [3]
    batcher.tick()
    assert len(batches) == 1  # the 4th event is not old enough yet
    now[0] = 0.6
    batcher.tick()
    assert [len(b) for b in batches] == [3, 1]
    batcher.flush()
    assert len(batches) == 2  # nothing pending: no empty batch


def test_it_runs_over_real_ssh_to_a_loopback_sshd(playbook, work_dir):
    path = playbook("""
        - name: ping over ssh
          ping:
        - name: run a command over ssh
          command: echo over-ssh
          register: out
        - name: show its output
          debug: msg="said {{ out.stdout }}"
    """)
    with LoopbackSSHD() as sshd:
        host = {
            "ansible_host": "127.0.0.1",
            "ansible_port": sshd.port,
            "ansible_user": sshd.user,
            "ansible_connection": "ssh",
            "ansible_ssh_private_key_file": str(sshd.key_path),
            "ansible_ssh_common_args": "-o ControlPersist=no -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": sys.executable,
        }
        rec = Recorder()
        result = run(RunSpec(path, {"all": {"hosts": {"loop": host}}}), work_dir, rec)
    assert result.status == "successful", rec.stdout()
    assert result.stats["loop"]["ok"] == 3 and result.stats["loop"]["changed"] == 1
    assert result.failed_hosts == []
    assert "said over-ssh" in rec.stdout()
    # ssh keeps the first value of an option: ansible's default ssh_args (ControlPersist=60s) come
    # before ssh_common_args, so a mux master is left; run_playbook must have stopped it.
    assert survivors(work_dir) == []
