"""The Celery app, made from the same settings as the Flask app; every task runs inside a Flask app context."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.signals import worker_init
from flask import Flask

from app.config import celery_config
from app.tasks.rq_compat import init_app as rq_init_app
from app.worker.leftovers import sweep_at_start


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app; every task runs inside a Flask app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    celery_app.conf.update(celery_config(app.config))
    celery_app.set_default()
    rq_init_app(celery_app, app.config["RQ_REDIS_URL"])  # RQ jobs run under their own names

    def sweep_leftovers(sender: Any, **kwargs: Any) -> None:
        """A starting worker stops what earlier jobs on this machine left running (before its pool forks)."""
        if sender.app is not celery_app:  # the signal is global; every app made in this process listens
            return
        with app.app_context():
            sweep_at_start(sender.hostname)

    worker_init.connect(sweep_leftovers, weak=False)
    app.extensions["celery"] = celery_app
    return celery_app
