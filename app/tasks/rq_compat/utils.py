"""Helpers with RQ's exact formats: timestamps, timeouts, call strings, function references, serializers."""

from __future__ import annotations

import builtins
import calendar
import importlib
import inspect
import json
import numbers
import pickle
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from app.tasks.rq_compat.exceptions import TimeoutFormatError

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def utcformat(moment: datetime) -> str:
    """A datetime as RQ writes it into job hashes."""
    return moment.strftime(TIMESTAMP_FORMAT)


def utcparse(value: bytes | str) -> datetime:
    """Read a timestamp written by utcformat (or RQ's older second-resolution format)."""
    text = as_text(value)
    try:
        parsed = datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return parsed.replace(tzinfo=UTC)


def current_timestamp() -> int:
    """Whole seconds since the epoch: the score unit of RQ's registries."""
    return calendar.timegm(now().utctimetuple())


def as_text(value: object) -> str:
    """Decode bytes from Redis; leave text alone (redis-py types its answers wider than RQ's data)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected bytes or str from Redis, got {type(value).__name__}")


def decode_hash(raw: Mapping[Any, Any]) -> dict[str, bytes]:
    """A Redis hash with text field names."""
    return {as_text(key): value for key, value in raw.items()}


def parse_timeout(timeout: float | str | bytes | None) -> int | None:
    """Seconds from an int, '90', or digits with a d/h/m/s unit ('2m', '1h'), like RQ."""
    if timeout is None or isinstance(timeout, numbers.Integral):
        return None if timeout is None else int(timeout)
    try:
        return int(timeout)
    except ValueError:
        text = as_text(timeout)
        try:
            return int(text[:-1]) * UNITS[text[-1:].lower()]
        except (ValueError, KeyError):
            raise TimeoutFormatError(
                "Timeout must be an integer or a string representing an integer, or a string with format: "
                'digits + unit, unit can be "d", "h", "m", "s", such as "1h", "23m".'
            ) from None


def truncate(text: str, max_length: int | None) -> str:
    """Cut long argument reprs the way RQ does in descriptions."""
    if max_length is None or len(text) <= max_length:
        return text
    return text[:max_length] + "..."


def get_call_string(func_name: str | None, args: Iterable, kwargs: dict, max_length: int | None = None) -> str | None:
    """`module.func(1, 2, key='v')`: RQ's default job description."""
    if func_name is None:
        return None
    parts = [truncate(repr(arg), max_length) for arg in args]
    parts += sorted(f"{key}={truncate(repr(value), max_length)}" for key, value in kwargs.items())
    return f"{func_name}({', '.join(parts)})"


def resolve_function_reference(func: Callable[..., Any] | str) -> tuple[Any, str]:
    """(instance, name) for a function, bound method, callable object or dotted-path string."""
    if inspect.ismethod(func):
        return func.__self__, func.__name__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return None, f"{func.__module__}.{func.__qualname__}"
    if isinstance(func, str):
        return None, func
    if not inspect.isclass(func) and callable(func):
        return func, "__call__"
    raise TypeError(f"Expected a callable or a string, but got: {func}")


def import_attribute(name: str) -> Any:
    """Import `package.module.attr` (also `module.Class.staticmethod`, or a builtin's bare name): whatever it is."""
    module_bits, attribute_bits = name.split(".")[:-1], [name.split(".")[-1]]
    module = None
    while module_bits:
        try:
            module = importlib.import_module(".".join(module_bits))
            break
        except ImportError:
            attribute_bits.insert(0, module_bits.pop())
    if module is None:
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise ValueError(f"Invalid attribute name: {name}")
    target: Any = module
    for bit in attribute_bits:
        if not hasattr(target, bit):
            raise ValueError(f"Invalid attribute name: {name}")
        target = getattr(target, bit)
    return target


def ensure_list(obj: object) -> list[Any]:
    """A list of the items of a non-string iterable, or [obj]."""
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        return list(obj)
    return [obj]


class Serializer(Protocol):
    """What RQ accepts as a serializer: anything with dumps and loads (a class, an instance or a module)."""

    def dumps(self, obj: Any, /) -> bytes: ...  # noqa: D102

    def loads(self, data: bytes, /) -> Any: ...  # noqa: D102


class DefaultSerializer:
    """Pickle at the highest protocol: what RQ stores by default."""

    dumps = partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL)
    loads = pickle.loads


class JSONSerializer:
    """JSON as UTF-8 bytes, RQ's 'json' serializer."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        """Encode."""
        return json.dumps(obj).encode("utf-8")

    @staticmethod
    def loads(data: bytes) -> Any:
        """Decode."""
        return json.loads(as_text(data))


SERIALIZER_ALIASES: dict[str, Serializer] = {"json": JSONSerializer, "pickle": DefaultSerializer}


def resolve_serializer(serializer: Serializer | str | None = None) -> Serializer:
    """None means pickle; 'json'/'pickle' aliases or a dotted path are imported; anything with dumps/loads."""
    if not serializer:
        return DefaultSerializer
    if isinstance(serializer, str):
        serializer = SERIALIZER_ALIASES.get(serializer) or import_attribute(serializer)
    if not (hasattr(serializer, "dumps") and hasattr(serializer, "loads")):
        raise NotImplementedError("Serializer should have (dumps, loads) methods.")
    return serializer


def serializer_path(serializer: Serializer) -> str:
    """A dotted path workers can import to get the same serializer back ('' for the default)."""
    if serializer is DefaultSerializer:
        return ""
    if serializer is JSONSerializer:
        return "json"
    if inspect.ismodule(serializer):
        return serializer.__name__
    owner = serializer if inspect.isclass(serializer) else type(serializer)
    return f"{owner.__module__}.{owner.__qualname__}"
