"""Entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`, `celery -A wsgi worker|beat|flower`."""

import sys

from app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]

# `celery -A wsgi` looks up `wsgi.app` before `wsgi.celery`; inside the celery command line (and only
# there) `app` is the Celery app, so the short form works. Everyone else gets the Flask app.
app = celery if "celery.bin.celery" in sys.modules else flask_app
