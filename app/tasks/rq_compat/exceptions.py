"""The exceptions RQ code catches, under RQ's names."""

from __future__ import annotations


class NoSuchJobError(Exception):
    """No job record exists under that id."""


class InvalidJobOperation(Exception):
    """The job is not in a state that allows the operation."""


class DuplicateJobError(Exception):
    """unique=True and a job with that id already exists."""


class DeserializationError(Exception):
    """The job's stored call could not be unpickled."""


class TimeoutFormatError(Exception):
    """A timeout is neither a number nor digits plus a d/h/m/s unit."""


class AbandonedJobError(Exception):
    """The job's worker went away while the job was running."""


class JobTimeoutException(Exception):
    """The job ran past its job_timeout (raised by Celery's soft time limit)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.extra_info = kwargs.pop("extra_info", None)
        super().__init__(*args)
