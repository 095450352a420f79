"""In a real browser: run a playbook from the form and watch the live log until success (desktop and phone)."""

from __future__ import annotations

import pytest

from tests.browser import VIEWPORTS, PageWatch, live_server
from tests.conftest import PASSWORD
from tests.jobs_helpers import add_hosts

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app, service_env, users, worker, tmp_path):
    with live_server(service_env, tmp_path / "gunicorn.log") as url:
        yield url


@pytest.fixture
def gate(tmp_path):
    """A file path for tests/gate.yml: a run holds until the test creates it (and is let go at teardown)."""
    path = tmp_path / "gate"
    yield path
    path.touch()


def tail_responses(page) -> list[int]:  # type: ignore[no-untyped-def]
    """The statuses of the page's live-log polls, appended as they arrive."""
    statuses: list[int] = []
    page.on("response", lambda r: "/tail?" in r.url and statuses.append(r.status))
    return statuses


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_it_runs_a_playbook_and_streams_its_log(browser, server, app, output_dir, viewport, gate):
    add_hosts(app, "web-01", "web-02", group="web")
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    watch = PageWatch(page)
    tails = tail_responses(page)
    page.goto(server + "/login")
    page.fill("input[name=username]", "oper")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(server + "/run?playbook=tests/gate.yml&group=web")
    page.click("summary")  # open the options
    page.fill("textarea[name=extra_vars]", f"gate: {gate}")
    page.screenshot(path=str(output_dir / f"run-form-{viewport}.png"), full_page=True)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/jobs/*")
    # the run holds at the gate until the page has shown it running with its log streaming in
    page.locator("#job-header .status-running").wait_for(timeout=60000)
    page.locator("#log", has_text="TASK [Wait for the gate]").wait_for(timeout=60000)
    page.screenshot(path=str(output_dir / f"job-running-{viewport}.png"), full_page=True)
    assert page.locator("#job-header .status-successful").count() == 0
    gate.touch()
    page.locator("#job-header .status-successful").wait_for(timeout=60000)
    assert page.locator("#log").inner_text().count("TASK [Wait for the gate]") == 1  # appended once, never repeated
    assert "PLAY RECAP" in page.locator("#log").inner_text()
    assert page.locator("#job-results td", has_text="web-02").count() == 1
    assert page.get_by_role("button", name="Relaunch").is_visible()
    page.screenshot(path=str(output_dir / f"job-done-{viewport}.png"), full_page=True)
    assert tails[-1] == 286
    polls = len(tails)

    # A stopped poll stays stopped. Instead of waiting a fixed time, relaunch from a second tab and let
    # that tab poll its own (gated) job three times: its poller has the same 1 s period, so had this
    # page kept polling, it would have polled meanwhile too.
    gate.unlink()
    other = context.new_page()
    other_watch = PageWatch(other)
    other_tails = tail_responses(other)
    first_url = page.url
    other.goto(first_url)
    other.once("dialog", lambda dialog: dialog.accept())  # the confirmation step
    other.get_by_role("button", name="Relaunch").click()
    other.wait_for_url(lambda url: url != first_url and "/jobs/" in url)
    assert "queued (relaunch of" in other.locator(".flash").inner_text()
    while other_tails.count(200) < 3:
        other.wait_for_event("response", timeout=60000)
    assert len(tails) == polls, "the finished job's page kept polling"
    gate.touch()
    other.locator("#job-header .status-successful").wait_for(timeout=60000)
    assert other_tails[-1] == 286
    assert watch.problems == [], watch.problems
    assert other_watch.problems == [], other_watch.problems
    context.close()
