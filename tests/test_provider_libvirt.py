"""LibvirtProvider against libvirt's real in-memory test driver (test:///default): no mocks."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import libvirt
import pytest

from app.providers.base import (
    VM_STATES,
    ProviderError,
    RecordingSteps,
    TransientProviderError,
    VMNotFound,
    VMSpec,
    make_step,
)
from app.providers.libvirt import LibvirtProvider, map_state
from app.providers.libvirt_conn import get_connection
from app.providers.libvirt_xml import owned_volumes

URI = "test:///default"
POOL = "default-pool"  # the test driver's built-in pool


@pytest.fixture
def conn() -> libvirt.virConnect:
    """The provider's own cached connection: the test driver's state lives in it."""
    return get_connection(URI)


@pytest.fixture
def provider() -> LibvirtProvider:
    """A provider that polls fast (the test driver changes state instantly)."""
    return LibvirtProvider(URI, poll_interval=0.01, start_timeout=2)


@pytest.fixture
def name(provider: LibvirtProvider) -> Iterator[str]:
    """A unique VM name, deleted again after the test."""
    vm = f"t-{uuid.uuid4().hex[:10]}"
    yield vm
    provider.delete(vm)


@pytest.fixture
def vm(provider: LibvirtProvider, name: str) -> str:
    """A running VM made through the provider."""
    provider.create(VMSpec(name, vcpus=1, memory_mib=256, disk_gib=2))
    return name


def volumes(conn: libvirt.virConnect, pool: str = POOL) -> list[str]:
    """Volume names in a pool, read straight from libvirt."""
    return conn.storagePoolLookupByName(pool).listVolumes()


def domains(conn: libvirt.virConnect) -> list[str]:
    """Domain names, read straight from libvirt."""
    return [d.name() for d in conn.listAllDomains(0)]


def all_ok(steps: RecordingSteps) -> bool:
    """True when every logged step ended ok."""
    return all(outcome == "ok" for _, outcome, _ in steps.outcomes())


# ---- create -------------------------------------------------------------------------------


def test_it_creates_a_vm_logging_every_step_and_ends_running(provider, conn, name):
    steps = RecordingSteps()
    result = provider.create(VMSpec(name, vcpus=2, memory_mib=512, disk_gib=4), steps)
    assert steps.names() == [
        "selecting storage pool",
        "defining domain",
        f"creating volume {name}-disk0",
        "starting domain",
        "waiting for running state",
    ]
    assert [e[1] for e in steps.events] == ["start", "ok"] * 5
    assert steps.outcome("selecting storage pool") == ("ok", POOL)
    assert result.state == "running" and provider.state(name) == "running"
    assert f"{name}-disk0" in volumes(conn)
    dom = conn.lookupByName(name)
    assert dom.info()[3] == 2 and dom.maxMemory() == 512 * 1024
    assert owned_volumes(dom.XMLDesc(0)) == [(POOL, f"{name}-disk0")]


def test_it_layers_the_disk_on_a_base_image(provider, conn, name):
    pool = conn.storagePoolLookupByName(POOL)
    base = pool.createXML(
        f"<volume><name>{name}-base</name><capacity unit='GiB'>1</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    try:
        steps = RecordingSteps()
        provider.create(VMSpec(name, 1, 256, 2, image=f"{name}-base"), steps)
        assert steps.outcome(f"looking up base image {name}-base") == ("ok", base.path())
        disk_xml = pool.storageVolLookupByName(f"{name}-disk0").XMLDesc(0)
        assert f"<backingStore>\n    <path>{base.path()}</path>" in disk_xml
    finally:
        provider.delete(name)
        base.delete(0)


def test_it_fails_a_name_clash_leaving_the_existing_domain_alone(provider, conn):
    steps = RecordingSteps()
    with pytest.raises(ProviderError, match="create test failed: defining domain: .*already exists"):
        provider.create(VMSpec("test", 1, 256, 2), steps)
    assert steps.outcome("defining domain")[0] == "failed"
    assert steps.outcome("cleanup") == ("ok", "nothing was made")
    assert "starting domain" not in steps.names()
    assert conn.lookupByName("test").isActive()  # the built-in domain was not touched
    assert "test-disk0" not in volumes(conn)


def test_it_undefines_the_domain_when_the_volume_name_clashes(provider, conn, name):
    pool = conn.storagePoolLookupByName(POOL)
    squatter = pool.createXML(f"<volume><name>{name}-disk0</name><capacity unit='GiB'>1</capacity></volume>", 0)
    try:
        steps = RecordingSteps()
        with pytest.raises(ProviderError, match=f"creating volume {name}-disk0: .*already exists"):
            provider.create(VMSpec(name, 1, 256, 2), steps)
        assert steps.names()[-3:] == [
            f"creating volume {name}-disk0",
            "cleanup: destroying domain",
            "cleanup: undefining domain",
        ]
        assert steps.outcome("cleanup: destroying domain") == ("ok", "not running")
        assert steps.outcome("cleanup: undefining domain") == ("ok", "")
        assert name not in domains(conn)
        assert squatter.info()[1] == 1024**3  # not ours, so not deleted
    finally:
        squatter.delete(0)


def test_it_fails_before_making_anything_when_the_base_image_is_missing(provider, conn, name):
    steps = RecordingSteps()
    with pytest.raises(ProviderError, match="looking up base image nope: .*not found"):
        provider.create(VMSpec(name, 1, 256, 2, image="nope"), steps)
    assert steps.names() == ["selecting storage pool", "looking up base image nope", "cleanup"]
    assert name not in domains(conn) and f"{name}-disk0" not in volumes(conn)


# ---- delete -------------------------------------------------------------------------------


def test_it_deletes_domain_and_volume_logging_every_step(provider, conn, vm):
    steps = RecordingSteps()
    result = provider.delete(vm, steps)
    assert steps.names() == [
        "looking up domain",
        "destroying domain",
        "undefining domain",
        f"deleting volume {vm}-disk0",
        "checking domain is gone",
    ]
    assert all_ok(steps) and result.state is None and result.notes == ()
    assert vm not in domains(conn) and f"{vm}-disk0" not in volumes(conn)


def test_it_delete_continues_when_the_volume_was_removed_behind_its_back(provider, conn, vm):
    conn.storagePoolLookupByName(POOL).storageVolLookupByName(f"{vm}-disk0").delete(0)
    steps = RecordingSteps()
    provider.delete(vm, steps)
    assert all_ok(steps)
    assert steps.outcome(f"deleting volume {vm}-disk0") == ("ok", "already absent")
    assert vm not in domains(conn)


def test_it_delete_continues_when_a_running_domain_was_undefined_behind_its_back(provider, conn, vm):
    conn.lookupByName(vm).undefine()  # running, so it lives on as a transient domain until destroyed
    steps = RecordingSteps()
    provider.delete(vm, steps)
    assert all_ok(steps)
    assert steps.outcome("destroying domain") == ("ok", "")
    assert steps.outcome("undefining domain") == ("ok", "already absent")
    assert vm not in domains(conn) and f"{vm}-disk0" not in volumes(conn)


def test_it_delete_finds_the_disk_by_name_when_the_domain_is_already_gone(provider, conn, vm):
    dom = conn.lookupByName(vm)
    dom.destroy()
    dom.undefine()
    steps = RecordingSteps()
    result = provider.delete(vm, steps)
    assert steps.outcome("looking up domain") == ("ok", "already absent")
    assert steps.outcome("undefining domain") == ("ok", "already absent")
    assert steps.outcome(f"deleting volume {vm}-disk0") == ("ok", "")
    assert f"{vm}-disk0" not in volumes(conn) and result.notes == ("was already absent",)


def test_it_delete_reports_a_volume_it_cannot_remove_without_raising(conn, name):
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>{name}-pool</name><target><path>/{name}</path></target></pool>", 0
    )
    pool.create(0)
    provider = LibvirtProvider(URI, pool=f"{name}-pool", poll_interval=0.01)
    provider.create(VMSpec(name, 1, 256, 2))
    pool.destroy()  # an inactive pool refuses volume operations
    try:
        steps = RecordingSteps()
        result = provider.delete(name, steps)
        assert steps.outcome(f"deleting volume {name}-disk0")[0] == "failed"
        assert steps.outcome("checking domain is gone") == ("ok", "")
        assert "not active" in result.summary and name not in domains(conn)
    finally:
        pool.create(0)
        pool.storageVolLookupByName(f"{name}-disk0").delete(0)
        pool.destroy()
        pool.undefine()


def test_it_deletes_a_vm_that_has_a_managed_save_image_and_snapshots(provider, conn, vm):
    dom = conn.lookupByName(vm)
    dom.snapshotCreateXML("<domainsnapshot><name>s1</name></domainsnapshot>", 0)
    dom.managedSave(0)
    steps = RecordingSteps()
    provider.delete(vm, steps)
    assert all_ok(steps) and vm not in domains(conn)


# ---- power --------------------------------------------------------------------------------


def test_it_start_on_a_running_vm_is_a_noted_no_op(provider, vm):
    steps = RecordingSteps()
    result = provider.start(vm, steps)
    assert result.notes == ("already running",) and result.state == "running"
    assert steps.outcomes() == [("starting domain", "ok", "already running")]


def test_it_stops_then_starts(provider, vm):
    steps = RecordingSteps()
    stopped = provider.stop(vm, steps, timeout=2)
    assert steps.names() == ["checking state", "requesting shutdown", "waiting for shut off (up to 2 s)"]
    assert all_ok(steps) and stopped.state == "stopped" == provider.state(vm)
    assert provider.stop(vm).notes == ("already stopped",)
    steps = RecordingSteps()
    assert provider.start(vm, steps).notes == ()
    assert steps.names() == ["starting domain", "waiting for running state"]
    assert provider.state(vm) == "running"


def test_it_forces_off_a_paused_vm_and_resumes_one_on_start(provider, conn, vm):
    conn.lookupByName(vm).suspend()
    assert provider.start(vm).notes == ("resumed from paused",)
    conn.lookupByName(vm).suspend()
    steps = RecordingSteps()
    result = provider.stop(vm, steps)
    assert steps.names() == ["checking state", "forcing power-off"]
    assert result.notes == ("was paused: forced power-off",) and result.state == "stopped"


def test_it_restarts_by_reboot_and_a_stopped_vm_by_stop_and_start(provider, vm):
    steps = RecordingSteps()
    assert provider.restart(vm, steps).state == "running"
    assert steps.names() == ["rebooting domain", "waiting for running state"] and all_ok(steps)
    provider.stop(vm)
    steps = RecordingSteps()
    result = provider.restart(vm, steps)
    assert result.state == "running"
    assert result.notes[:2] == ("was stopped: did stop + start", "already stopped")
    assert steps.names() == ["checking state", "starting domain", "waiting for running state"]


# ---- state / list / reconcile -------------------------------------------------------------


def test_it_reports_state_and_list_and_raises_vm_not_found(provider, vm):
    assert provider.state(vm) == "running"
    listed = provider.list()
    assert listed[vm] == "running" and listed["test"] == "running"
    assert set(listed.values()) <= VM_STATES
    with pytest.raises(VMNotFound):
        provider.state("no-such-vm")
    with pytest.raises(VMNotFound):
        provider.start("no-such-vm")


def test_it_lists_changes_made_behind_its_back(provider, conn, vm):
    conn.lookupByName(vm).destroy()
    assert provider.list()[vm] == "stopped"
    conn.lookupByName(vm).create()
    conn.lookupByName(vm).suspend()
    assert provider.list()[vm] == "paused"
    other = conn.createXML(
        f"<domain type='test'><name>{vm}-x</name><memory>65536</memory><os><type>hvm</type></os></domain>", 0
    )  # transient, made outside
    assert provider.list()[f"{vm}-x"] == "running"
    other.destroy()
    assert f"{vm}-x" not in provider.list()


def test_it_maps_libvirt_states_into_the_closed_set():
    assert map_state(libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED) == "crashed"
    assert map_state(libvirt.VIR_DOMAIN_SHUTDOWN, 0) == "shutting_down"
    assert map_state(libvirt.VIR_DOMAIN_PMSUSPENDED, 0) == "paused"
    assert map_state(99, 0) == "unknown"
    assert {map_state(s, 0) for s in range(9)} <= VM_STATES


# ---- connections and errors ---------------------------------------------------------------


def test_it_maps_an_unreachable_daemon_to_a_transient_error():
    with pytest.raises(TransientProviderError, match="Failed to connect socket"):
        LibvirtProvider("qemu:///system?socket=/nonexistent/libvirt-sock").list()


def test_it_maps_a_bad_request_to_a_permanent_error(tmp_path):
    with pytest.raises(ProviderError) as caught:
        LibvirtProvider(f"test://{tmp_path}/missing.xml").list()
    assert not isinstance(caught.value, TransientProviderError)


def test_it_reuses_one_connection_and_reopens_a_dead_one(provider, conn):
    assert get_connection(URI) is conn
    conn.close()  # behind the provider's back
    assert "test" in provider.list()
    fresh = get_connection(URI)
    assert fresh is not conn and fresh.isAlive()


def test_it_gives_a_forked_child_its_own_connection(provider, conn, vm):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, then leave without running pytest's teardown
        try:
            own = get_connection(URI) is not conn
            provider.stop(vm)
            os.write(write_fd, json.dumps([own, provider.state(vm)]).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    own, child_state = json.loads(os.read(read_fd, 65536))
    os.waitpid(pid, 0)
    assert own and child_state == "stopped"
    # the child worked on its own copy of the test driver's state, and the parent's
    # connection survived the child (which never closed it)
    assert provider.state(vm) == "running" and conn.isAlive()


# ---- steps and spec -----------------------------------------------------------------------


def test_it_logs_a_failed_step_with_its_reason():
    events: list[tuple[str, str, str]] = []
    step = make_step(lambda *event: events.append(event))
    with pytest.raises(RuntimeError), step("doing it"):
        raise RuntimeError("disk full")
    assert events == [("doing it", "start", ""), ("doing it", "failed", "disk full")]


@pytest.mark.parametrize("bad", [dict(name="a b"), dict(name="../x"), dict(vcpus=0), dict(disk_gib=0)])
def test_it_rejects_an_unbuildable_spec(bad):
    with pytest.raises(ValueError):
        VMSpec(**{"name": "ok", "vcpus": 1, "memory_mib": 256, "disk_gib": 1, **bad})
