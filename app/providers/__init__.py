"""VM providers: plain-Python backends (no Flask, Celery or SQL) behind one small interface.

The libvirt backend lives in `app.providers.libvirt` (imported on demand: it needs libvirt-python).
"""

from app.providers.base import (
    VM_STATES,
    ActionResult,
    ProviderError,
    RecordingSteps,
    StepFactory,
    StepHandle,
    TransientProviderError,
    VMNotFound,
    VMProvider,
    VMSpec,
    VMState,
    VolumeNotFound,
    make_step,
    null_step,
)

__all__ = [
    "VM_STATES",
    "ActionResult",
    "ProviderError",
    "RecordingSteps",
    "StepFactory",
    "StepHandle",
    "TransientProviderError",
    "VMNotFound",
    "VMProvider",
    "VMSpec",
    "VMState",
    "VolumeNotFound",
    "make_step",
    "null_step",
]
