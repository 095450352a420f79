"""Domain / volume XML that the libvirt provider writes and reads back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NamedTuple

from app.providers.base import VMSpec

# Our own metadata block in the domain XML records which volumes the provider created,
# so delete never removes storage it cannot prove is ours.
METADATA_NS = "urn:ops-dashboard:vm:1"
ET.register_namespace("opsdash", METADATA_NS)
FILE_POOL_TYPES = frozenset({"dir", "fs", "netfs"})  # pools whose volumes are files (qcow2 works)


class VolumeRef(NamedTuple):
    """A volume by pool name and volume name."""

    pool: str
    name: str


def disk_volume_name(vm: str) -> str:
    """The conventional name of a VM's system disk volume (also used to find it when the domain is gone)."""
    return f"{vm}-disk0"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element with optional text and attributes."""
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def _metadata(root: ET.Element, volumes: list[VolumeRef]) -> None:
    """Write the ownership record of the volumes the provider makes for this domain."""
    owner = _sub(_sub(root, "metadata"), f"{{{METADATA_NS}}}vm")
    for ref in volumes:
        _sub(owner, f"{{{METADATA_NS}}}volume", pool=ref.pool, name=ref.name)


def _devices(root: ET.Element, spec: VMSpec, disk: VolumeRef | None, disk_format: str) -> None:
    """Disk by pool/volume (resolved at start, so the volume may be made after define), NIC, console."""
    devices = _sub(root, "devices")
    if disk is not None:
        el = _sub(devices, "disk", type="volume", device="disk")
        _sub(el, "driver", name="qemu", type=disk_format)
        _sub(el, "source", pool=disk.pool, volume=disk.name)
        _sub(el, "target", dev="vda", bus="virtio")
    if spec.network:
        nic = _sub(devices, "interface", type="network")
        _sub(nic, "source", network=spec.network)
        _sub(nic, "model", type="virtio")
    _sub(devices, "serial", type="pty")
    _sub(devices, "console", type="pty")


def domain_xml(spec: VMSpec, domain_type: str, disk: VolumeRef | None, disk_format: str = "qcow2") -> str:
    """Persistent-domain XML valid for the test driver and for qemu/kvm (only `type` differs)."""
    root = ET.Element("domain", type=domain_type)
    _sub(root, "name", spec.name)
    _metadata(root, [disk] if disk else [])
    _sub(root, "memory", str(spec.memory_mib), unit="MiB")
    _sub(root, "vcpu", str(spec.vcpus))
    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm")  # no arch/machine: the driver picks the host's defaults
    _sub(os_el, "boot", dev="hd")
    features = _sub(root, "features")
    _sub(features, "acpi")  # without ACPI a qemu guest ignores graceful shutdown
    _sub(features, "apic")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    _devices(root, spec, disk, disk_format)
    return ET.tostring(root, encoding="unicode")


def volume_xml(name: str, capacity_gib: int, fmt: str | None, backing: tuple[str, str] | None) -> str:
    """Volume XML; `backing` = (path, format) of a base image to layer a qcow2 overlay on."""
    root = ET.Element("volume")
    _sub(root, "name", name)
    _sub(root, "capacity", str(capacity_gib), unit="GiB")
    target = _sub(root, "target")  # the schema wants it even when empty
    if fmt:
        _sub(target, "format", type=fmt)
    if backing:
        store = _sub(root, "backingStore")
        _sub(store, "path", backing[0])
        _sub(store, "format", type=backing[1])
    return ET.tostring(root, encoding="unicode")


def owned_volumes(xml: str) -> list[VolumeRef]:
    """Volumes our metadata block says the provider created for this domain."""
    owner = ET.fromstring(xml).find(f"metadata/{{{METADATA_NS}}}vm")
    if owner is None:
        return []
    return [VolumeRef(el.get("pool", ""), el.get("name", "")) for el in owner.findall(f"{{{METADATA_NS}}}volume")]


def pool_type(xml: str) -> str:
    """The `type` attribute of a storage pool's XML."""
    return ET.fromstring(xml).get("type", "")


def volume_format(xml: str) -> str:
    """A volume's format (qcow2, raw, ...); raw when the XML does not say."""
    el = ET.fromstring(xml).find("target/format")
    return el.get("type", "raw") if el is not None else "raw"


def guest_domain_types(capabilities_xml: str) -> set[str]:
    """Domain types (kvm, qemu, test, ...) the host's capabilities offer for guests."""
    root = ET.fromstring(capabilities_xml)
    return {el.get("type", "") for el in root.findall("guest/arch/domain")}
