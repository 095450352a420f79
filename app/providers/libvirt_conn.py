"""libvirt connections (one per process per URI) and libvirtError -> ProviderError mapping."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import libvirt

from app.providers.base import ProviderError, TransientProviderError, VMNotFound, VolumeNotFound

# Codes that describe the path to the hypervisor or a busy/locked object, not the request itself.
TRANSIENT_CODES = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_OPERATION_TIMEOUT,  # e.g. "cannot acquire state change lock"
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
        libvirt.VIR_ERR_AGENT_UNSYNCED,
        libvirt.VIR_ERR_RESOURCE_BUSY,
        libvirt.VIR_ERR_AUTH_UNAVAILABLE,
    }
)
TRANSIENT_DOMAINS = frozenset({libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE})

# Keyed by pid too: a forked Celery worker must open its own connection, never reuse
# (or close, which would send a close RPC on the parent's socket) the parent's one.
_connections: dict[tuple[str, int], libvirt.virConnect] = {}
_lock = threading.Lock()


def _silence(_ctx: object, _err: object) -> None:
    """Drop libvirt's own stderr error printing: every error is raised and mapped anyway."""


libvirt.registerErrorHandler(_silence, None)


def translate(err: libvirt.libvirtError) -> ProviderError:
    """Map a libvirtError to VMNotFound / VolumeNotFound / TransientProviderError / ProviderError."""
    code, domain = err.get_error_code(), err.get_error_domain()
    message = err.get_error_message() or str(err)
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return VMNotFound(message, code=code)
    if code == libvirt.VIR_ERR_NO_STORAGE_VOL:
        return VolumeNotFound(message, code=code)
    if code in TRANSIENT_CODES or domain in TRANSIENT_DOMAINS:
        return TransientProviderError(message, code=code)
    return ProviderError(message, code=code)


@contextmanager
def libvirt_errors() -> Iterator[None]:
    """Re-raise any libvirtError inside the block as the mapped ProviderError."""
    try:
        yield
    except libvirt.libvirtError as err:
        raise translate(err) from err


def _alive(conn: libvirt.virConnect) -> bool:
    """True when the connection can still carry calls (a closed handle raises)."""
    try:
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


def get_connection(uri: str) -> libvirt.virConnect:
    """This process's connection to `uri`, reopened when it died."""
    key = (uri, os.getpid())
    with _lock:
        conn = _connections.get(key)
        if conn is None or not _alive(conn):
            with libvirt_errors():
                conn = libvirt.open(uri)
            _connections[key] = conn
        return conn


def close_connections() -> None:
    """Close this process's cached connections (worker shutdown, tests); others' are left alone."""
    pid = os.getpid()
    with _lock:
        for key in [key for key in _connections if key[1] == pid]:
            conn = _connections.pop(key)
            with suppress(libvirt.libvirtError):  # already dead: nothing left to release
                conn.close()
