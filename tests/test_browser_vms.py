"""On a phone: create a VM, then restart it from its page, watching each job's steps live."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Provider
from tests.browser import VIEWPORTS, PageWatch, live_server
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app, service_env, users, vm_worker, tmp_path):
    with app.app_context():
        db.session.add(Provider(name="local", uri="test:///default"))
        db.session.commit()
    with live_server(service_env, tmp_path / "gunicorn.log") as url:
        yield url


def test_on_call_creates_and_restarts_a_vm_from_a_phone(browser, server, output_dir):
    context = browser.new_context(viewport=VIEWPORTS["phone"], is_mobile=True, has_touch=True)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(server + "/login")
    page.fill("input[name=username]", "oper")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(server + "/vms/new")
    page.fill("input[name=name]", "phone-vm-1")
    page.fill("input[name=memory_mib]", "512")
    page.get_by_role("button", name="Create").tap()
    page.locator("#job-header .status-successful").wait_for(timeout=30000)
    assert "✓ waiting for running state" in page.locator("#log").inner_text()
    page.goto(server + "/vms")
    page.get_by_role("link", name="phone-vm-1").tap()
    page.wait_for_url("**/vms/*")
    page.locator("h1", has_text="phone-vm-1").wait_for()
    assert page.locator(".vm-running").is_visible()
    page.get_by_role("link", name="Restart").tap()
    page.wait_for_url("**/restart")
    page.fill("input[name=reason]", "paged at 3am")
    page.screenshot(path=str(output_dir / "vm-restart-confirm-phone.png"), full_page=True)
    page.get_by_role("button", name="Restart phone-vm-1").tap()
    page.locator("#job-header .status-successful").wait_for(timeout=30000)
    assert "✓ rebooting domain" in page.locator("#log").inner_text()
    page.screenshot(path=str(output_dir / "vm-restart-done-phone.png"), full_page=True)
    assert watch.problems == [], watch.problems
    context.close()
