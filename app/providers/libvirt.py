"""VM provider backed by libvirt (qemu/kvm hosts, and the in-memory test:///default driver)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit

import libvirt

from app.providers.base import (
    ActionResult,
    ProviderError,
    StepFactory,
    StepHandle,
    TransientProviderError,
    VMNotFound,
    VMSpec,
    VMState,
    VolumeNotFound,
    null_step,
)
from app.providers.libvirt_conn import get_connection, libvirt_errors
from app.providers.libvirt_xml import (
    FILE_POOL_TYPES,
    VolumeRef,
    disk_volume_name,
    domain_xml,
    guest_domain_types,
    owned_volumes,
    pool_type,
    volume_format,
    volume_xml,
)

_STATES: dict[int, VMState] = {
    libvirt.VIR_DOMAIN_NOSTATE: "unknown",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "running",  # running, momentarily waiting on a resource
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutting_down",
    libvirt.VIR_DOMAIN_SHUTOFF: "stopped",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "paused",  # guest suspended itself to RAM
}
# Tried in order: older daemons and the test driver reject flags they do not know with
# VIR_ERR_INVALID_ARG ("unsupported flags"), and managed save / snapshots block a plain undefine.
_UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_TPM,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    0,
)
_UNSUPPORTED = frozenset({libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT})
_WELL_KNOWN_POOLS = ("default", "default-pool")  # qemu hosts' usual pool, test driver's pool


def map_state(state: int, reason: int) -> VMState:
    """libvirt (state, reason) -> one of VM_STATES."""
    if state == libvirt.VIR_DOMAIN_SHUTOFF and reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
        return "crashed"  # qemu reports a crash (on_crash=destroy) as shutoff/crashed
    return _STATES.get(state, "unknown")


@contextmanager
def run_step(step: StepFactory, name: str) -> Iterator[StepHandle]:
    """One logged step; libvirt errors become ProviderErrors whose message names the step."""
    try:
        with step(name) as handle, libvirt_errors():
            yield handle
    except ProviderError as exc:
        raise type(exc)(f"{name}: {exc}", code=exc.code) from exc


def attempt(step: StepFactory, name: str, action: Callable[[StepHandle], object]) -> str | None:
    """Run a best-effort step; return its failure reason instead of raising."""
    try:
        with run_step(step, name) as handle:
            action(handle)
    except ProviderError as exc:
        return str(exc)
    return None


def _destroy(dom: libvirt.virDomain | None, handle: StepHandle) -> None:
    """Force power-off if running."""
    if dom is None:
        handle.note("already absent")
    elif not dom.isActive():
        handle.note("not running")
    else:
        dom.destroy()


def _undefine(dom: libvirt.virDomain | None, handle: StepHandle) -> None:
    """Undefine with the strongest flags the driver accepts; a vanished domain is fine."""
    if dom is None:
        handle.note("already absent")
        return
    for flags in _UNDEFINE_FLAGS:
        try:
            dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                handle.note("already absent")  # transient domain: it vanished on destroy
                return
            if err.get_error_code() not in _UNSUPPORTED or flags == 0:
                raise


def _delete_volume(conn: libvirt.virConnect, ref: VolumeRef, handle: StepHandle) -> None:
    """Delete one volume; an already missing volume is fine."""
    try:
        with libvirt_errors():
            vol = conn.storagePoolLookupByName(ref.pool).storageVolLookupByName(ref.name)
    except VolumeNotFound:
        handle.note("already absent")
        return
    vol.delete(0)


@dataclass
class _Made:
    """What create() has made so far, i.e. what a failed create must remove."""

    domain: libvirt.virDomain | None = None
    volume: VolumeRef | None = None
    notes: list[str] = field(default_factory=list)


class LibvirtProvider:
    """VMProvider on one libvirt URI (qemu:///system, qemu+ssh://host/system, test:///default)."""

    def __init__(
        self,
        uri: str,
        *,
        pool: str | None = None,
        domain_type: str | None = None,
        start_timeout: float = 30.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.uri = uri
        self.pool_name = pool  # None: 'default', else 'default-pool', else no disk
        self.domain_type = domain_type  # None: from the URI / host capabilities
        self.start_timeout = start_timeout
        self.poll_interval = poll_interval

    @property
    def conn(self) -> libvirt.virConnect:
        """This process's cached connection (reopened if it died)."""
        return get_connection(self.uri)

    # ---- create -------------------------------------------------------------------------

    def create(self, spec: VMSpec, step: StepFactory = null_step) -> ActionResult:
        """Define, add a disk volume, start, wait for running; on failure remove what was made."""
        made = _Made()
        try:
            self._build(spec, step, made)
        except BaseException as exc:
            failures = self._cleanup(made, step)
            if not isinstance(exc, ProviderError):
                raise
            tail = f"; cleanup incomplete: {'; '.join(failures)}" if failures else ""
            raise type(exc)(f"create {spec.name} failed: {exc}{tail}", code=exc.code) from exc
        return ActionResult(spec.name, "create", "running", tuple(made.notes))

    def _build(self, spec: VMSpec, step: StepFactory, made: _Made) -> None:
        """The create steps, recording each thing made before the next step can fail."""
        conn = self.conn
        pool, file_pool = self._select_pool(conn, spec, step)
        backing = self._base_image(pool, file_pool, spec.image, step) if pool and spec.image else None
        ref = VolumeRef(pool.name(), disk_volume_name(spec.name)) if pool else None
        with run_step(step, "defining domain") as s:
            dtype = self._guest_type(conn)
            xml = domain_xml(spec, dtype, ref, "qcow2" if file_pool else "raw")
            made.domain = conn.defineXML(xml)
            s.note(f"type={dtype}")
        if pool and ref:
            vol_xml = volume_xml(ref.name, spec.disk_gib, "qcow2" if file_pool else None, backing)
            self._create_volume(pool, ref, vol_xml, step, made)
        with run_step(step, "starting domain"):
            made.domain.create()
        with run_step(step, "waiting for running state"):
            self._await_running(made.domain)

    def _select_pool(
        self, conn: libvirt.virConnect, spec: VMSpec, step: StepFactory
    ) -> tuple[libvirt.virStoragePool | None, bool]:
        """(pool for the disk, whether it holds files): configured, else well-known, else none."""
        with run_step(step, "selecting storage pool") as s:
            pool = self._find_pool(conn)
            if pool is None and spec.image:
                raise ProviderError(f"base image {spec.image!r} needs a storage pool; none found")
            s.note(pool.name() if pool else "no storage pool: the VM gets no disk")
            return pool, pool is not None and pool_type(pool.XMLDesc(0)) in FILE_POOL_TYPES

    def _find_pool(self, conn: libvirt.virConnect) -> libvirt.virStoragePool | None:
        """Look up the pool by configured or well-known name (raises if a configured one is missing)."""
        with libvirt_errors():
            if self.pool_name:
                return conn.storagePoolLookupByName(self.pool_name)
            pools = {p.name(): p for p in conn.listAllStoragePools(0)}
        return next((pools[n] for n in _WELL_KNOWN_POOLS if n in pools), None)

    def _base_image(
        self, pool: libvirt.virStoragePool, file_pool: bool, image: str, step: StepFactory
    ) -> tuple[str, str]:
        """(path, format) of the base image volume the new disk is layered on."""
        with run_step(step, f"looking up base image {image}") as s:
            if not file_pool:
                raise ProviderError(f"pool {pool.name()!r} cannot hold qcow2 overlays")
            base = pool.storageVolLookupByName(image)
            s.note(base.path())
            return base.path(), volume_format(base.XMLDesc(0))

    def _create_volume(
        self, pool: libvirt.virStoragePool, ref: VolumeRef, xml: str, step: StepFactory, made: _Made
    ) -> None:
        """Create the disk volume (a qcow2 overlay when the XML names a base image)."""
        with run_step(step, f"creating volume {ref.name}") as s:
            vol = pool.createXML(xml, 0)
            made.volume = ref
            s.note(vol.path())

    def _cleanup(self, made: _Made, step: StepFactory) -> list[str]:
        """Remove what a failed create made, logging each step; return the failures."""
        results: list[str | None] = []
        if made.domain is None and made.volume is None:
            with step("cleanup") as s:  # logged anyway, so the job log shows nothing was left behind
                s.note("nothing was made")
        if made.domain is not None:
            dom = made.domain
            results.append(attempt(step, "cleanup: destroying domain", lambda s: _destroy(dom, s)))
            results.append(attempt(step, "cleanup: undefining domain", lambda s: _undefine(dom, s)))
        if made.volume is not None:
            ref = made.volume  # self.conn inside the step: a dead connection is a logged failure
            results.append(
                attempt(step, f"cleanup: deleting volume {ref.name}", lambda s: _delete_volume(self.conn, ref, s))
            )
        return [r for r in results if r]

    def _guest_type(self, conn: libvirt.virConnect) -> str:
        """Domain type: configured, 'test' for the test driver, else kvm when the host offers it."""
        if self.domain_type:
            return self.domain_type
        if urlsplit(self.uri).scheme.split("+")[0] == "test":
            return "test"
        return "kvm" if "kvm" in guest_domain_types(conn.getCapabilities()) else "qemu"

    # ---- power ----------------------------------------------------------------------------

    def start(self, name: str, step: StepFactory = null_step) -> ActionResult:
        """Start a stopped VM or resume a paused one; an already running VM is a noted no-op."""
        dom = self._lookup(name)
        with run_step(step, "starting domain") as s:
            s.note(self._start_domain(dom))
        if s.detail != "already running":
            with run_step(step, "waiting for running state"):
                self._await_running(dom)
        return ActionResult(name, "start", "running", (s.detail,) if s.detail else ())

    def _start_domain(self, dom: libvirt.virDomain) -> str:
        """Bring the domain to running; return a note on what that took."""
        raw, reason = dom.state(0)
        state = map_state(raw, reason)
        if state == "running":
            return "already running"
        if raw == libvirt.VIR_DOMAIN_PMSUSPENDED:
            dom.pMWakeup(0)
            return "woken from guest suspend"
        if state == "paused":
            dom.resume()
            return "resumed from paused"
        if state == "shutting_down":  # starting now would race the guest's own power-off
            raise TransientProviderError("domain is shutting down; retry once it has stopped")
        if dom.isActive():
            raise ProviderError(f"domain is active but {state}: stop it first")
        restored = dom.hasManagedSaveImage(0)
        dom.create()
        return "restored from managed save" if restored else ""

    def stop(self, name: str, step: StepFactory = null_step, timeout: float = 60.0) -> ActionResult:
        """Graceful shutdown, forced power-off after `timeout` s; already stopped is a noted no-op."""
        dom = self._lookup(name)
        with run_step(step, "checking state") as s:
            state = self._state_of(dom)
            s.note(state)
        if not self._active(dom):
            return ActionResult(name, "stop", state, ("already stopped",))
        # a paused or crashed guest cannot act on a shutdown request
        why = f"was {state}" if state in ("paused", "crashed") else self._graceful(dom, step, timeout)
        if why:
            self._force_off(dom, step)
        notes = (f"{why}: forced power-off",) if why else ()
        return ActionResult(name, "stop", self._stopped_state(dom), notes)

    def _stopped_state(self, dom: libvirt.virDomain) -> VMState:
        """State after a stop; a transient domain (made outside the provider) vanishes on stop."""
        try:
            return self._state_of(dom)
        except VMNotFound:
            return "stopped"

    def _graceful(self, dom: libvirt.virDomain, step: StepFactory, timeout: float) -> str | None:
        """Ask the guest to shut down and wait; None once it is off, else why it is not."""
        if attempt(step, "requesting shutdown", lambda s: dom.shutdown()) and self._active(dom):
            return "shutdown request refused"  # no ACPI / agent: go straight to force
        with run_step(step, f"waiting for shut off (up to {timeout:g} s)") as s:
            stopped = self._poll(lambda: not self._active(dom), timeout)
            s.note("" if stopped else "still running")
        return None if stopped else f"still running after {timeout:g} s"

    def _force_off(self, dom: libvirt.virDomain, step: StepFactory) -> None:
        """Destroy; a domain that stopped on its own meanwhile is fine."""
        with run_step(step, "forcing power-off") as s:
            try:
                with libvirt_errors():
                    dom.destroy()
            except ProviderError:
                if self._active(dom):
                    raise
                s.note("stopped meanwhile")

    def restart(self, name: str, step: StepFactory = null_step, timeout: float = 60.0) -> ActionResult:
        """Reboot a running VM; otherwise (or if reboot fails) stop + start."""
        dom = self._lookup(name)
        state = self._state_of(dom)
        if state == "running":
            failure = attempt(step, "rebooting domain", lambda s: dom.reboot(0))
            if failure is None:
                with run_step(step, "waiting for running state"):
                    self._await_running(dom)
                return ActionResult(name, "restart", "running")
            note = f"reboot failed ({failure}): did stop + start"
        else:
            note = f"was {state}: did stop + start"
        stopped = self.stop(name, step, timeout)
        started = self.start(name, step)
        return ActionResult(name, "restart", started.state, (note, *stopped.notes, *started.notes))

    # ---- delete ---------------------------------------------------------------------------

    def delete(self, name: str, step: StepFactory = null_step) -> ActionResult:
        """Destroy, undefine, delete owned volumes, each step best-effort; raise only if the domain stays."""
        conn = self.conn
        dom, volumes = self._delete_targets(conn, name, step)
        results = [
            attempt(step, "destroying domain", lambda s: _destroy(dom, s)),
            attempt(step, "undefining domain", lambda s: _undefine(dom, s)),
        ]
        results += [attempt(step, f"deleting volume {ref.name}", partial(_delete_volume, conn, ref)) for ref in volumes]
        failures = [r for r in results if r]
        with run_step(step, "checking domain is gone"):
            if self._exists(name):
                raise ProviderError(f"domain {name} is still defined: {'; '.join(failures)}")
        notes = ("was already absent",) if dom is None else ()
        return ActionResult(name, "delete", None, notes + tuple(failures))

    def _delete_targets(
        self, conn: libvirt.virConnect, name: str, step: StepFactory
    ) -> tuple[libvirt.virDomain | None, list[VolumeRef]]:
        """The domain (None if gone) and the volumes it owns (by metadata, or by naming convention)."""
        with run_step(step, "looking up domain") as s:
            try:
                with libvirt_errors():
                    dom = conn.lookupByName(name)
                    volumes = owned_volumes(dom.XMLDesc(0))
                s.note(f"owns {len(volumes)} volume(s)")
                return dom, volumes
            except VMNotFound:
                pool = self._find_pool(conn)  # no metadata left: fall back to the naming convention
                s.note("already absent")
                return None, [VolumeRef(pool.name(), disk_volume_name(name))] if pool else []

    # ---- queries --------------------------------------------------------------------------

    def state(self, name: str) -> VMState:
        """Current state of one VM; raises VMNotFound."""
        return self._state_of(self._lookup(name))

    def uuid(self, name: str) -> str:
        """The domain's UUID; raises VMNotFound."""
        with libvirt_errors():
            return str(self._lookup(name).UUIDString())

    def _lookup(self, name: str) -> libvirt.virDomain:
        """Domain handle by name; raises VMNotFound."""
        with libvirt_errors():
            return self.conn.lookupByName(name)

    def _exists(self, name: str) -> bool:
        """True while a domain of that name is defined or running."""
        try:
            self._lookup(name)
        except VMNotFound:
            return False
        return True

    def _state_of(self, dom: libvirt.virDomain) -> VMState:
        """Mapped state of a domain handle."""
        with libvirt_errors():
            return map_state(*dom.state(0))

    def _active(self, dom: libvirt.virDomain) -> bool:
        """Running/paused/shutting down (a domain that vanished counts as inactive)."""
        try:
            with libvirt_errors():
                return bool(dom.isActive())
        except VMNotFound:
            return False

    def _poll(self, check: Callable[[], bool], timeout: float) -> bool:
        """Call `check` every poll_interval until it is true (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_interval)
        return True

    def _await_running(self, dom: libvirt.virDomain) -> None:
        """Wait for 'running'; fail fast if the domain stops or crashes instead."""

        def check() -> bool:
            state = self._state_of(dom)
            if state in ("stopped", "crashed"):
                raise ProviderError(f"domain is {state} instead of running")
            return state == "running"

        if not self._poll(check, self.start_timeout):
            raise ProviderError(f"not running after {self.start_timeout:g} s (state: {self._state_of(dom)})")

    def list(self) -> dict[str, VMState]:
        """Every domain on the connection with its state, from one atomic libvirt call."""
        with libvirt_errors():
            stats = self.conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
            return {dom.name(): map_state(s["state.state"], s["state.reason"]) for dom, s in stats}
