"""Entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`, `celery -A wsgi worker|beat|flower`."""

import sys

from app import create_app

# Inside the celery command line (workers, beat, Flower) no web page is served: no session key is needed.
IN_CELERY = "celery.bin.celery" in sys.modules
flask_app = create_app(serves_web=not IN_CELERY)
celery = flask_app.extensions["celery"]

# `celery -A wsgi` looks up `wsgi.app` before `wsgi.celery`; inside the celery command line (and only
# there) `app` is the Celery app, so the short form works. Everyone else gets the Flask app.
app = celery if IN_CELERY else flask_app
