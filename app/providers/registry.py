"""From a provider row to a provider object (one per kind and URI per process)."""

from __future__ import annotations

from functools import cache

from app.providers.base import VMProvider


@cache
def provider_for(kind: str, uri: str) -> VMProvider:
    """The provider object for a kind and URI; libvirt connections are cached per process underneath."""
    if kind == "libvirt":
        from app.providers.libvirt import LibvirtProvider

        return LibvirtProvider(uri)
    raise ValueError(f"unknown provider kind {kind!r}")
