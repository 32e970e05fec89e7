"""The bounds of a process host: what one process, or a spawn loop, can grow.

Every resource a user can grow has a limit, and reaching it gives a clear,
typed error (``LIMIT_EXCEEDED``) to whoever asked for more, never to a
bystander:

* ``max_processes``: live processes on one host; a spawn past it is refused;
* ``max_mailbox_bytes``: user messages (``send``, a pykka ``tell``/``ask``)
  waiting for one process, queued or routed but not yet received by its code;
  the sender of the message that does not fit gets the error and nothing is
  delivered.  A message counts its encoded payloads plus
  :data:`MESSAGE_OVERHEAD` bytes (about what Python spends to hold it), so
  the bytes bound the number of messages too: at most 524,288 by default.
  One figure keeps the check on the hottest path (a send) to one comparison.
  Signals are never refused: EXIT, LINK_DOWN and the other
  notices of a death are bounded by the links and monitors that make them,
  and a CANCEL that finds another one still unread is merged into it (its
  deadline, if any, still applies);
* ``min_ticker_period``: a ticker asking for a shorter period ticks at this
  one (2,000 tickers of one nanosecond pegged a core);
* ``max_timers``: timers one process has pending at once (sleeps, ``after``,
  timers, tickers);
* ``max_busy``: how long a Lua process may run without waiting while other
  processes wait for its thread (Lua cannot be preempted: a loop that never
  waits would hold every process of its lane); past it the process ends with
  ``LIMIT_EXCEEDED``.  Alone on its thread it runs as long as it likes.

``ProcessHost(limits=Limits(...))`` sets them; a ``process.host`` entry sets
them in its ``host`` mapping (see :data:`YAML_FIELDS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from actors import errors
from actors.durations import duration_seconds

__all__ = ["DEFAULT_LIMITS", "MESSAGE_OVERHEAD", "YAML_FIELDS", "Limits", "limits_from_config"]

_DURATIONS = ("min_ticker_period", "max_busy")
"""The limits given as durations (``"5ms"``, or a number of seconds)."""

MESSAGE_OVERHEAD = 128
"""Bytes a message counts beyond its payloads (its tuple, topic and bookkeeping)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one host's processes.  See the module docstring."""

    max_processes: int = 262_144
    """Live processes on the host (Erlang's default process limit)."""
    max_mailbox_bytes: int = 64 * 1024 * 1024
    """Bytes of user messages waiting for one process (payloads plus ``MESSAGE_OVERHEAD`` each)."""
    min_ticker_period: float = 0.001
    """Seconds: the shortest period a ticker ticks at."""
    max_timers: int = 10_000
    """Timers one process has pending at once."""
    max_busy: float = 2.0
    """Seconds a Lua process may run without waiting while other processes wait for its thread."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in _DURATIONS:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf
                if field.name == "max_busy":
                    ok = ok and value > 0
                if not ok:
                    least = "more than 0" if field.name == "max_busy" else "0 or more"
                    raise errors.Error(
                        errors.INVALID, f"{field.name} must be a duration of {least}, got {value!r}"
                    )
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise errors.Error(errors.INVALID, f"{field.name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()

YAML_FIELDS = tuple(field.name for field in fields(Limits))
"""The keys of a ``process.host`` entry's ``host`` mapping that set its limits."""


def limits_from_config(config: dict[str, Any]) -> Limits:
    """The limits a ``host`` mapping sets (the rest default); ``INVALID`` for a bad value.

    ``min_ticker_period`` and ``max_busy`` are durations (``"5ms"``) or numbers of seconds.
    """
    values: dict[str, Any] = {}
    for name in YAML_FIELDS:
        if name not in config or config[name] is None:
            continue
        value = config[name]
        if name in _DURATIONS:
            try:
                value = duration_seconds(value, number_unit=1.0, what=name)
            except errors.Error as err:
                message = err.message() if err.message().startswith(name) else f"{name}: {err.message()}"
                raise errors.Error(errors.INVALID, message) from None
        values[name] = value
    return Limits(**values)
