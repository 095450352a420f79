"""The event callback, without Ansible: runner events become ordered job lines; failures are flagged."""

from __future__ import annotations

from app.ansible.runner import EventBatcher, to_event
from app.worker.playbooks import job_lines


def runner_event(counter: int, event: str, stdout: str, host: str | None = None) -> dict:
    """An event shaped like the ones ansible-runner hands to event_handler."""
    data = {"counter": counter, "event": event, "stdout": stdout, "uuid": f"u{counter}"}
    if host:
        data["event_data"] = {"host": host, "task": "Maybe fail", "res": {"msg": "x"}}
    return data


def test_it_turns_runner_events_into_lines_and_flags_failures():
    events = [
        to_event(e)
        for e in [
            runner_event(1, "playbook_on_start", ""),
            runner_event(2, "playbook_on_task_start", "TASK [Maybe fail] ***"),
            runner_event(3, "runner_on_failed", "fatal: [bad-1]: FAILED! => {}", host="bad-1"),
            runner_event(4, "runner_on_unreachable", "fatal: [gone]: UNREACHABLE! => {}", host="gone"),
            runner_event(5, "runner_on_ok", "ok: [good]", host="good"),
        ]
    ]
    lines = job_lines(events)
    assert [line["text"] for line in lines] == [
        "TASK [Maybe fail] ***",
        "fatal: [bad-1]: FAILED! => {}",
        "fatal: [gone]: UNREACHABLE! => {}",
        "ok: [good]",
    ]
    assert [line["failed"] for line in lines] == [False, True, True, False]
    assert lines[1]["host"] == "bad-1" and lines[1]["task"] == "Maybe fail"


def test_it_hands_events_over_in_order_in_batches():
    batches: list[list[dict]] = []
    now = [0.0]
    batcher = EventBatcher(batches.append, max_events=3, max_delay=0.5, clock=lambda: now[0])
    for i in range(1, 8):
        batcher.add({"counter": i})
    now[0] = 1.0
    batcher.tick()
    batcher.flush()
    assert [[e["counter"] for e in b] for b in batches] == [[1, 2, 3], [4, 5, 6], [7]]
