"""The job page's live log: ?after=<seq> appends without loss or repeats; 286 stops polling; long logs stay fast."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.jobcore.transitions import transition
from app.models import JobLine
from app.models.job import JobTarget
from tests.jobs_helpers import job_record


def make_job(app, status: str = "running", lines: int = 0) -> int:
    """A job row with `lines` numbered log lines, written the way the worker writes them."""
    with app.app_context():
        job = job_record(status=status, params={})
        job.targets = [JobTarget(kind="host", name="web-01")]
        db.session.add(job)
        db.session.flush()
        rows = [
            {"job_id": job.id, "seq": i, "text": f"line {i}\n", "event": "verbose", "failed": False}
            for i in range(1, lines + 1)
        ]
        if rows:
            db.session.execute(sa.insert(JobLine), rows)
        db.session.commit()
        return job.id


def seqs(html: str) -> list[int]:
    """The data-seq of every line in a response, in order."""
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


@pytest.fixture
def viewer(auth):
    auth.login("viewer")
    return auth.client


def test_it_appends_only_lines_after_the_last_seq(app, viewer):
    job_id = make_job(app, lines=5)
    resp = viewer.get(f"/jobs/{job_id}/tail?after=3&status=running")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert seqs(html) == [4, 5]
    assert 'hx-swap-oob="beforeend:#log"' in html
    assert f"/jobs/{job_id}/tail?after=5&amp;status=running" in html  # the next poll asks after 5
    assert "job-header" not in html  # status unchanged: no header sent


def test_it_sends_nothing_new_when_nothing_happened(app, viewer):
    job_id = make_job(app, lines=2)
    html = viewer.get(f"/jobs/{job_id}/tail?after=2&status=running").get_data(as_text=True)
    assert seqs(html) == [] and "tail?after=2" in html


def test_it_stops_polling_with_286_when_the_job_ends(app, viewer):
    job_id = make_job(app, lines=3)
    with app.app_context():
        transition(job_id, ("running",), "successful")
        db.session.commit()
    resp = viewer.get(f"/jobs/{job_id}/tail?after=1&status=running")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 286
    assert seqs(html) == [2, 3]
    assert 'id="log-poller"' not in html
    assert 'id="job-header" class="card" hx-swap-oob="true"' in html and "successful" in html


def test_the_page_shows_the_tail_of_a_20000_line_log_and_loads_earlier_lines(app, viewer):
    job_id = make_job(app, status="successful", lines=20000)
    page = viewer.get(f"/jobs/{job_id}").get_data(as_text=True)
    shown = seqs(page)
    assert shown == list(range(19501, 20001))
    assert 'id="log-poller"' not in page  # an ended job does not poll
    earlier_url = re.search(r'hx-get="(/jobs/\d+/earlier\?before=19501)"', page).group(1)
    html = viewer.get(earlier_url).get_data(as_text=True)
    assert seqs(html) == list(range(19001, 19501))
    assert "before=19001" in html
    first = viewer.get(f"/jobs/{job_id}/earlier?before=501").get_data(as_text=True)
    assert seqs(first) == list(range(1, 501)) and "Load earlier lines" not in first


def test_it_renders_ansi_colours_escaped(app, viewer):
    job_id = make_job(app)
    with app.app_context():
        db.session.add(JobLine(job_id=job_id, seq=1, text="\x1b[0;31mfatal: <script>x</script>\x1b[0m\n", failed=True))
        db.session.commit()
    html = viewer.get(f"/jobs/{job_id}/tail?after=0&status=running").get_data(as_text=True)
    assert '<span class="ansi-red">fatal: &lt;script&gt;x&lt;/script&gt;</span>' in html
    assert "ln-failed" in html


def test_it_answers_404_for_an_unknown_job(viewer):
    resp = viewer.get("/jobs/424242")
    assert resp.status_code == 404 and "There is no job #424242." in resp.get_data(as_text=True)


def test_history_filters_and_refreshes_only_while_jobs_are_active(app, viewer):
    running = make_job(app)
    done = make_job(app, status="failed")
    page = viewer.get("/jobs/?status=failed").get_data(as_text=True)
    assert f"#{done}" in page and f"#{running}<" not in page
    assert 'hx-trigger="every 2s"' not in page
    page = viewer.get("/jobs/?host=web-01").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page
    resp = viewer.get("/jobs/?status=failed&fragment=rows", headers={"HX-Request": "true"})
    assert resp.status_code == 286 and "<html" not in resp.get_data(as_text=True)
    assert "HX-Request" in resp.headers["Vary"]
    resp = viewer.get("/jobs/?fragment=rows", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and 'id="job-rows"' in resp.get_data(as_text=True)
    assert "No jobs match." in viewer.get("/jobs/?user=nobody").get_data(as_text=True)


def test_the_dashboard_lists_running_jobs_and_stops_refreshing_when_none_are(app, viewer):
    resp = viewer.get("/?fragment=active", headers={"HX-Request": "true"})
    assert resp.status_code == 286 and "Nothing is running." in resp.get_data(as_text=True)
    job_id = make_job(app)
    page = viewer.get("/").get_data(as_text=True)
    assert f"#{job_id} tests/echo.yml" in page and 'hx-trigger="every 3s"' in page
    resp = viewer.get("/?fragment=active", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "<html" not in resp.get_data(as_text=True)
