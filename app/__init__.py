"""Application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.celery_app import celery_init_app
from app.config import Settings
from app.extensions import csrf, db, htmx, limiter, login, migrate
from app.requests import IdConverter


def create_app(overrides: dict[str, Any] | None = None, serves_web: bool = True) -> Flask:
    """Build the Flask app (and its Celery app) from the environment plus overrides.

    `serves_web=False` (Celery workers, beat, Flower) does without the session key."""
    app = Flask(__name__)
    settings = Settings()
    if serves_web:
        settings.require_secret_key()
    app.config.update(settings.flask_config())
    app.config.update(overrides or {})
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    app.url_map.converters["int"] = IdConverter  # before any route is added
    _init_extensions(app)
    _register_blueprints(app)
    celery_init_app(app)
    from app import tasks  # noqa: F401  (registers every task on the Celery app just made)

    return app


def _init_extensions(app: Flask) -> None:
    """Bind the extension globals and the SQLite pragmas."""
    from app import models  # noqa: F401  (every table registered before migrations run)
    from app.db_setup import configure_engine

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(app.config.get("MIGRATIONS_DIR", "migrations")), render_as_batch=True, compare_type=True
    )
    login.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)


def _register_blueprints(app: Flask) -> None:
    """Attach each area's blueprint, the error pages and the CLI."""
    from app import auth, deployments, errors, inventory, jobs, ops, templating, vms
    from app.cli import providers_cli, users_cli
    from app.tasks.rq_compat.cli import rq_cli

    for blueprint in (auth.bp, ops.bp, inventory.bp, deployments.bp, jobs.bp, vms.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    templating.register(app)
    app.cli.add_command(users_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(rq_cli)
