"""A playbook run over real SSH: the job path (form → worker → ansible-runner) against a loopback sshd."""

from __future__ import annotations

import sys

from app.extensions import db
from app.models import Host
from tests.jobs_helpers import job_text, run_form, wait_status
from tests.sshd import LoopbackSSHD


def test_it_runs_a_playbook_over_ssh_as_a_job(app, auth, worker):
    with LoopbackSSHD() as sshd:
        with app.app_context():
            db.session.add(
                Host(
                    name="ssh-01",
                    address="127.0.0.1",
                    port=sshd.port,
                    user=sshd.user,
                    variables={
                        "ansible_ssh_private_key_file": str(sshd.key_path),
                        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                        "ansible_python_interpreter": sys.executable,
                    },
                )
            )
            db.session.commit()
        auth.login("operator")
        resp = auth.post("/run", run_form("gather_facts.yml", hosts=["ssh-01"]))
        job = wait_status(app, int(resp.headers["Location"].rsplit("/", 1)[1]))
    assert job.status == "successful", job_text(app, job.id)
    assert [(r.host, r.ok, r.unreachable) for r in job.host_results] == [("ssh-01", 2, 0)]
    assert "ssh-01" in job_text(app, job.id) and "vCPU" in job_text(app, job.id)
