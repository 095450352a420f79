"""Flower's options from the project's settings: `celery -A wsgi flower --conf=app/flowerconfig.py`.

Flower runs this file at start (its `--conf` option). The basic-auth password is read here, from
FLOWER_BASIC_AUTH or var/flower.auth, so it never appears on Flower's command line, which every local
user can read through /proc. Admins reach Flower through the app's /flower/ proxy, hence the prefix.
"""

from app.config import flower_basic_auth

# A list: Flower would split a plain string at commas, and a password may contain one.
basic_auth = [flower_basic_auth(required=True)]
url_prefix = "flower"
