"""Typed errors shared by Python code, Lua code and Temporal workflows.

An :class:`Error` is both a Python exception (raise it, catch it) and the
error *value* that process results, events and Lua calls carry.  It has the
same four accessors the Lua API exposes (``kind()``, ``message()``,
``retryable()``, ``details()``), and it round-trips through the msgpack codec,
so an error raised by a Lua activity inside a workflow arrives in a Python
monitor with the same kind, message and retryability.

Kinds are plain strings (``errors.NOT_FOUND == "NOT_FOUND"``) so that code
comparing against the constants and code comparing against literal strings
both work, in Python and in Lua.  Wippy's runtime spells kinds ``"NotFound"``
(and older code ``"not_found"``): an error made with any spelling of a known
kind has that kind (:func:`canonical_kind`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ALREADY_EXISTS",
    "CANCELED",
    "CONFLICT",
    "EXITED",
    "INTERNAL",
    "INVALID",
    "INVALID_STATE",
    "KINDS",
    "LIMIT_EXCEEDED",
    "NOT_FOUND",
    "PERMISSION_DENIED",
    "RATE_LIMITED",
    "TERMINATED",
    "TIMEOUT",
    "UNAVAILABLE",
    "UNKNOWN",
    "Error",
    "canonical_kind",
    "from_exception",
    "is_kind",
    "wrap",
]

INVALID = "INVALID"
NOT_FOUND = "NOT_FOUND"
ALREADY_EXISTS = "ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAVAILABLE = "UNAVAILABLE"
INTERNAL = "INTERNAL"
CANCELED = "CANCELED"
CONFLICT = "CONFLICT"
TIMEOUT = "TIMEOUT"
RATE_LIMITED = "RATE_LIMITED"
UNKNOWN = "UNKNOWN"
# Kinds the runtime itself produces in a few places.
INVALID_STATE = "INVALID_STATE"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
EXITED = "EXITED"
TERMINATED = "TERMINATED"

KINDS: frozenset[str] = frozenset(
    {
        INVALID,
        NOT_FOUND,
        ALREADY_EXISTS,
        PERMISSION_DENIED,
        UNAVAILABLE,
        INTERNAL,
        CANCELED,
        CONFLICT,
        TIMEOUT,
        RATE_LIMITED,
        UNKNOWN,
        INVALID_STATE,
        LIMIT_EXCEEDED,
        EXITED,
        TERMINATED,
    }
)


def _spellings(name: str) -> tuple[str, ...]:
    camel = "".join(part.capitalize() for part in name.lower().split("_"))
    return (name, name.lower(), camel)


_CANONICAL: dict[str, str] = {spelling: kind for kind in KINDS for spelling in _spellings(kind)}
_CANONICAL.update(Cancelled=CANCELED, CANCELLED=CANCELED)


def canonical_kind(kind: str) -> str:
    """The kind constant for any spelling of it (``"NotFound"``, ``"not_found"`` → ``NOT_FOUND``);
    other strings unchanged."""
    return _CANONICAL.get(kind, kind) if type(kind) is str else kind


class Error(Exception):
    """An error with a kind, a message, a retryability flag and details.

    ``retryable`` is three-valued like the Lua API: ``True``, ``False`` or
    ``None`` (unknown).  ``details`` is a plain, msgpack-encodable mapping or
    ``None``.
    """

    def __init__(
        self,
        kind: str = "",
        message: str = "",
        *,
        retryable: bool | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self._kind = _CANONICAL.get(kind, kind) if type(kind) is str else kind
        self._message = message
        self._retryable = retryable
        self._details = details

    def kind(self) -> str:
        """The error's classification, one of the module's kind constants or ``""``."""
        return self._kind

    def message(self) -> str:
        """The human-readable message."""
        return self._message

    def retryable(self) -> bool | None:
        """Whether retrying may succeed: ``True``, ``False`` or ``None`` (unknown)."""
        return self._retryable

    def details(self) -> dict[str, Any] | None:
        """Structured details, or ``None``."""
        return self._details

    def with_details(self, **extra: Any) -> Error:
        """A copy of this error with ``extra`` merged into its details."""
        merged = dict(self._details or {})
        merged.update(extra)
        return Error(self._kind, self._message, retryable=self._retryable, details=merged)

    def __str__(self) -> str:
        context = (self._details or {}).get("context")
        return f"{context}: {self._message}" if context else self._message

    def __repr__(self) -> str:
        return f"Error({self._kind!r}, {self._message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Error):
            return NotImplemented
        return (self._kind, self._message, self._retryable, self._details) == (
            other._kind,
            other._message,
            other._retryable,
            other._details,
        )

    def __hash__(self) -> int:
        return hash((self._kind, self._message, self._retryable))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._kind, self._message, self._retryable, self._details))


def _rebuild(kind: str, message: str, retryable: bool | None, details: dict[str, Any] | None) -> Error:
    return Error(kind, message, retryable=retryable, details=details)


def wrap(err: Error | str, context: str) -> Error:
    """Add ``context`` to an error's text while keeping its kind and retryability.

    As in the Lua ``errors.wrap``, ``message()`` stays the inner message; the
    context is kept in ``details()["context"]`` and shows in ``str()``.
    """
    if not isinstance(err, Error):
        err = Error("", str(err))
    inner = (err.details() or {}).get("context")
    return err.with_details(context=f"{context}: {inner}" if inner else context)


def is_kind(err: object, kind: str) -> bool:
    """True when ``err`` is an :class:`Error` of ``kind``."""
    return isinstance(err, Error) and err.kind() == kind


def from_exception(exc: BaseException) -> Error:
    """Turn any exception into an :class:`Error` (``INTERNAL`` unless it already is one)."""
    if isinstance(exc, Error):
        return exc
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return Error(INTERNAL, message, retryable=None)
