"""Tasks the VM worker imports in tests (--include): they change libvirt behind the dashboard's back.

libvirt's test:///default driver lives inside the worker process, so a test reaches it through the
broker, on the same cached connection the provider uses. These are real libvirt calls, not stand-ins."""

from __future__ import annotations

import libvirt
from celery import shared_task

from app.providers.libvirt_conn import get_connection


@shared_task(name="tests.libvirt.destroy")
def destroy(uri: str, name: str) -> str:
    """Power a domain off directly."""
    get_connection(uri).lookupByName(name).destroy()
    return "destroyed"


@shared_task(name="tests.libvirt.undefine")
def undefine(uri: str, name: str) -> str:
    """Remove a domain directly (power off first if needed)."""
    dom = get_connection(uri).lookupByName(name)
    if dom.isActive():
        dom.destroy()
    dom.undefine()
    return "undefined"


@shared_task(name="tests.libvirt.delete_volume")
def delete_volume(uri: str, pool: str, volume: str) -> str:
    """Delete a storage volume directly."""
    get_connection(uri).storagePoolLookupByName(pool).storageVolLookupByName(volume).delete(0)
    return "deleted"


@shared_task(name="tests.libvirt.states")
def states(uri: str) -> dict[str, int]:
    """Every domain with libvirt's raw state number."""
    conn = get_connection(uri)
    return {dom.name(): dom.state()[0] for dom in conn.listAllDomains()}


@shared_task(name="tests.libvirt.volumes")
def volumes(uri: str, pool: str) -> list[str]:
    """Volume names in a pool."""
    return sorted(get_connection(uri).storagePoolLookupByName(pool).listVolumes())


@shared_task(name="tests.libvirt.replace")
def replace(uri: str, name: str) -> str:
    """Swap a domain for a new one of the same name (a new UUID), running; returns the new UUID."""
    conn = get_connection(uri)
    old = conn.lookupByName(name)
    if old.isActive():
        old.destroy()
    old.undefine()
    xml = f"<domain type='test'><name>{name}</name><memory>131072</memory><os><type>hvm</type></os></domain>"
    new = conn.defineXML(xml)
    new.create()
    return str(new.UUIDString())


RUNNING = libvirt.VIR_DOMAIN_RUNNING
