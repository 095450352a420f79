"""Extension objects, created bare and bound to an app with init_app."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention above."""

    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app; every task runs inside a Flask app context."""
    from app.tasks.rq_compat import init_app as rq_init_app  # not at the top: app.tasks imports us

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    celery_app.conf.update(
        broker_url=app.config["REDIS_URL"],
        result_backend=app.config["REDIS_URL"],
        timezone=app.config["CELERY_TIMEZONE"],
    )
    celery_app.set_default()
    rq_init_app(celery_app, app.config["RQ_REDIS_URL"])  # RQ jobs run under their own names
    app.extensions["celery"] = celery_app
    return celery_app
