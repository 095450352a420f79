"""Log in with a real Chromium at desktop and phone sizes; no console errors, no failed requests."""

from __future__ import annotations

import pytest

from tests.browser import VIEWPORTS, PageWatch, live_server
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app, service_env, users, tmp_path):
    with live_server(service_env, tmp_path / "gunicorn.log") as url:
        yield url


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_it_logs_in_and_out_in_a_real_browser(browser, server, output_dir, viewport):
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(server + "/")
    assert page.url.startswith(server + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.screenshot(path=str(output_dir / f"login-{viewport}.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    assert page.get_by_text("Running now").is_visible()
    assert page.evaluate("typeof htmx") == "object"  # htmx served from our own static files
    if viewport == "phone":
        page.click("label.nav-button")  # the collapsed menu opens
    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    page.wait_for_url(server + "/audit")
    assert page.get_by_text("auth.login").first.is_visible()
    page.screenshot(path=str(output_dir / f"audit-{viewport}.png"), full_page=True)
    if viewport == "phone":
        page.click("label.nav-button")
        assert _tap_height(page, "label.nav-button") >= 44
    page.get_by_role("button", name="Log out admin").click()
    page.wait_for_url(server + "/login")
    assert page.get_by_text("You are logged out.").is_visible()
    assert watch.problems == []
    context.close()


def _tap_height(page, selector: str) -> float:
    """Rendered height of an element, in CSS pixels."""
    return page.eval_on_selector(selector, "e => e.getBoundingClientRect().height")
