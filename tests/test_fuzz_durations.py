"""Fuzzing Go-style durations (``actors/lua/stdlib.py``: ``parse_duration``, ``format_duration``).

Go's ``time.ParseDuration`` reads exactly, into an int64 of nanoseconds, and
refuses anything else with an error; ``Duration.String`` prints what it
reads back.  ``stdlib.py`` belongs to another part of the project: a
property it does not hold is a strict ``xfail`` test naming the bug, with
the inputs that show it (none left: the three found are fixed, see
docs/reliability.md).  Bounded for ``make test``; see
``tests/fuzz_support.py`` for the long mode.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from actors import errors
from actors.errors import Error
from actors.lua.stdlib import format_duration, parse_duration

from .fuzz_support import fuzz

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UNITS = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]

NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)).map(lambda p: f"{p[0]}.{p[1]}"),
    st.integers(0, 10**6).map(lambda n: f".{n}"),
    st.text(alphabet="0123456789.", max_size=30),
)
DURATION_LIKE = st.tuples(
    st.sampled_from(["", "-", "+"]),
    st.lists(st.tuples(NUMBERS, st.sampled_from([*UNITS, "", "d", "S", " s"])), min_size=0, max_size=4),
).map(lambda parts: parts[0] + "".join(number + unit for number, unit in parts[1]))
DURATION_TEXTS = st.one_of(DURATION_LIKE, st.text(max_size=40))


def parsed(text: str) -> int | None:
    """The nanoseconds ``text`` reads as, or None when refused with ``INVALID``."""
    try:
        value = parse_duration(text)
    except Error as err:
        assert err.kind() == errors.INVALID
        return None
    assert isinstance(value, int)
    return value


@fuzz(500)
@given(st.integers(min_value=-(2**53), max_value=2**53))
@example(0)
@example(1)
@example(-1_500)
@example(3_600_000_000_001)
def test_a_duration_prints_as_text_that_reads_back_exactly(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns


@fuzz(300)
@given(DURATION_TEXTS)
@example("9" * 400 + "s")
def test_any_duration_text_reads_or_is_invalid(text: str) -> None:
    parsed(text)


@fuzz(300)
@given(DURATION_TEXTS)
@example("2562048h")
@example("9223372036854775808ns")
@example("-9223372036854775809ns")
def test_durations_past_int64_are_invalid(text: str) -> None:
    try:
        value = parse_duration(text)
    except Error:
        return
    assert INT64_MIN <= value <= INT64_MAX


@fuzz(300)
@given(st.integers(min_value=INT64_MIN + 1, max_value=INT64_MAX))
@example(INT64_MAX)
@example(2**53 + 1)
def test_every_int64_duration_reads_back_exactly(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns
    assert parse_duration(f"{ns}ns") == ns
