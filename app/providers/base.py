"""Provider-neutral VM API: spec, states, errors, step logging and the provider interface."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

VMState = Literal["running", "stopped", "paused", "shutting_down", "crashed", "unknown"]
VM_STATES: frozenset[str] = frozenset(get_args(VMState))

# Names end up in XML, volume names and file paths: keep them boring.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ProviderError(Exception):
    """A provider action failed and retrying the same call will not help."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code  # the backend's own error code, for logs and debugging


class TransientProviderError(ProviderError):
    """A provider action failed for a reason worth retrying (connection lost, timeout, busy)."""


class VMNotFound(ProviderError):
    """The named VM does not exist on the provider."""


class VolumeNotFound(ProviderError):
    """The named storage volume (disk or base image) does not exist."""


@dataclass(frozen=True)
class VMSpec:
    """What to build: name, size and optional base image / network."""

    name: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    image: str | None = None  # base image (volume name in the same pool) the disk is layered on
    network: str | None = None  # virtual network to attach one NIC to; None = no NIC

    def __post_init__(self) -> None:
        """Reject specs no backend could build, before anything is made."""
        if not _NAME_RE.match(self.name):
            raise ValueError(f"invalid VM name {self.name!r}: letters, digits, '.', '_', '-' (max 63)")
        for attr in ("vcpus", "memory_mib", "disk_gib"):
            if getattr(self, attr) < 1:
                raise ValueError(f"{attr} must be >= 1")


@dataclass(frozen=True)
class ActionResult:
    """Outcome of a successful action: the VM's state afterwards (None once deleted) and notes."""

    vm: str
    action: str
    state: str | None
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """One line for the job log."""
        tail = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.action} {self.vm}: {self.state or 'absent'}{tail}"


@dataclass
class StepHandle:
    """Yielded by `with step(name) as s`; the body may attach a detail to the 'ok' outcome."""

    name: str
    detail: str = ""

    def note(self, text: str) -> None:
        """Record a detail (e.g. 'already running') reported with the step's outcome."""
        self.detail = text


StepFactory = Callable[[str], AbstractContextManager[StepHandle]]
StepEvent = Callable[[str, str, str], None]  # (step name, 'start'|'ok'|'failed', detail)


def make_step(on_event: StepEvent) -> StepFactory:
    """Build a step factory that reports start / ok / failed (with the reason) to `on_event`."""

    @contextmanager
    def step(name: str) -> Iterator[StepHandle]:
        handle = StepHandle(name)
        on_event(name, "start", "")
        try:
            yield handle
        except GeneratorExit:
            raise  # the generator is being discarded, not a step failure
        except BaseException as exc:  # KeyboardInterrupt / time limits also end the step
            on_event(name, "failed", str(exc) or type(exc).__name__)
            raise
        on_event(name, "ok", handle.detail)

    return step


null_step: StepFactory = make_step(lambda name, outcome, detail: None)


@dataclass
class RecordingSteps:
    """A step factory that records every (name, outcome, detail) event, for tests."""

    events: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, name: str) -> AbstractContextManager[StepHandle]:
        """Open a recorded step."""
        return make_step(lambda *event: self.events.append(event))(name)

    def names(self) -> list[str]:
        """Step names in the order they started."""
        return [name for name, outcome, _ in self.events if outcome == "start"]

    def outcomes(self) -> list[tuple[str, str, str]]:
        """Only the end events (ok / failed), in order."""
        return [event for event in self.events if event[1] != "start"]

    def outcome(self, name: str) -> tuple[str, str]:
        """(outcome, detail) of the last step called `name`."""
        return next((o, d) for n, o, d in reversed(self.outcomes()) if n == name)


class VMProvider(Protocol):
    """What the job layer needs from a VM backend; every action logs through `step`."""

    def create(self, spec: VMSpec, step: StepFactory = null_step) -> ActionResult:
        """Build and start a VM; on failure remove whatever was made, then raise ProviderError."""
        ...

    def start(self, name: str, step: StepFactory = null_step) -> ActionResult:
        """Start (or resume) a VM; a running VM is a no-op with a note."""
        ...

    def stop(self, name: str, step: StepFactory = null_step, timeout: float = 60.0) -> ActionResult:
        """Shut down gracefully, forcing power-off after `timeout` seconds; idempotent."""
        ...

    def restart(self, name: str, step: StepFactory = null_step) -> ActionResult:
        """Reboot, falling back to stop + start."""
        ...

    def delete(self, name: str, step: StepFactory = null_step) -> ActionResult:
        """Remove the VM and its disks, continuing past partial failures; idempotent."""
        ...

    def state(self, name: str) -> VMState:
        """Current state of one VM; raises VMNotFound."""
        ...

    def uuid(self, name: str) -> str:
        """The provider's unique id of the VM called `name` (a new VM of the same name gets another); VMNotFound."""
        ...

    def list(self) -> dict[str, VMState]:
        """Every VM the provider knows, with its state (what reconcile compares against)."""
        ...
