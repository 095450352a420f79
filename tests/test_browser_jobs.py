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


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_it_runs_a_playbook_and_streams_its_log(browser, server, app, output_dir, viewport):
    add_hosts(app, "web-01", "web-02", group="web")
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    watch = PageWatch(page)
    tails: list[int] = []
    page.on("response", lambda r: "/tail?" in r.url and tails.append(r.status))
    page.goto(server + "/login")
    page.fill("input[name=username]", "oper")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(server + "/run?playbook=tests/sleep.yml&group=web")
    page.click("summary")  # open the options
    page.fill("textarea[name=extra_vars]", "seconds: 3")
    page.screenshot(path=str(output_dir / f"run-form-{viewport}.png"), full_page=True)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/jobs/*")
    page.locator("#job-header .status-running").wait_for(timeout=30000)
    page.screenshot(path=str(output_dir / f"job-running-{viewport}.png"), full_page=True)
    page.locator("#job-header .status-successful").wait_for(timeout=60000)
    assert page.locator("#log").inner_text().count("TASK [Sleep a while]") == 1  # appended once, never repeated
    assert "PLAY RECAP" in page.locator("#log").inner_text()
    assert page.locator("#job-results td", has_text="web-02").count() == 1
    assert page.get_by_role("button", name="Relaunch").is_visible()
    page.screenshot(path=str(output_dir / f"job-done-{viewport}.png"), full_page=True)
    polls = len(tails)
    assert tails[-1] == 286
    page.wait_for_timeout(2500)  # a stopped poll stays stopped: nothing to wait on but time itself
    assert len(tails) == polls
    first_url = page.url
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation step
    page.get_by_role("button", name="Relaunch").click()
    page.wait_for_url(lambda url: url != first_url and "/jobs/" in url)
    assert "queued (relaunch of" in page.locator(".flash").inner_text()
    page.locator("#job-header .status-successful").wait_for(timeout=60000)
    assert watch.problems == [], watch.problems
    context.close()
