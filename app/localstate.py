"""`python -m app.localstate`: prepare var/ for `make dev` before anything reads the settings.

Writes what a single machine needs once and keeps it afterwards: the session secret (unless SECRET_KEY is set),
Flower's `user:password` (FLOWER_BASIC_AUTH when given, else generated) and, without REDIS_URL, the embedded
broker's port, password and config. Every secret file is made 0600 before anything is written into it.
The settings object itself only ever reads these files.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from app import devbroker
from app.config import env_str, var_dir


def write_private(path: Path, text: str, replace: bool = False) -> None:
    """Write a file only its owner can read (kept as it is unless `replace`)."""
    if path.exists() and not replace:
        return
    devbroker.write_private(path, text)


def prepare() -> Path:
    """Make var/ and the files above; returns var/."""
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    if env_str("SECRET_KEY") is None:
        write_private(var / "secret_key", secrets.token_urlsafe(48))
    flower_auth = env_str("FLOWER_BASIC_AUTH")
    write_private(var / "flower.auth", flower_auth or f"admin:{secrets.token_urlsafe(12)}", replace=bool(flower_auth))
    if env_str("REDIS_URL") is None:
        devbroker.prepare()
    return var


if __name__ == "__main__":
    prepare()
