"""Go's time semantics for the Lua ``time`` module: layouts, locations, calendar arithmetic.

The runtime's ``time`` module is Go's ``time`` package seen from Lua, so
layouts are Go reference-time layouts (``"2006-01-02 15:04:05"``), dates
normalise out-of-range fields the way ``time.Date`` does, and a Time keeps
the location it is shown in.  Instants are integers: nanoseconds since the
Unix epoch.  A location is named by a *zone id*: ``""`` (UTC), ``"Local"``,
``"fixed:<offset seconds>:<name>"`` or an IANA name (``"Europe/Paris"``).

Everything here is a pure function of its arguments (and, for IANA names,
of the tz database), so a workflow may call it while replaying.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actors import errors

__all__ = [
    "LAYOUTS",
    "add_date",
    "date",
    "fields",
    "fixed_zone",
    "format_layout",
    "load_location",
    "parse_layout",
    "round_to",
    "zone_name",
]

_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO_NS = -62_135_596_800 * _NS
"""Go's zero Time (January 1, year 1, UTC) in Unix nanoseconds: out of a Lua Time's range."""
_MIN_NS, _MAX_NS = -(2**63), 2**63 - 1
"""A Lua Time is a 64-bit count of nanoseconds: years 1678 to 2262."""

LAYOUTS = {
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339NANO": "2006-01-02T15:04:05.999999999Z07:00",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "DATE_TIME": "2006-01-02 15:04:05",
    "DATE_ONLY": "2006-01-02",
    "TIME_ONLY": "15:04:05",
    "KITCHEN": "3:04PM",
    "STAMP": "Jan _2 15:04:05",
    "STAMP_MILLI": "Jan _2 15:04:05.000",
    "STAMP_MICRO": "Jan _2 15:04:05.000000",
    "STAMP_NANO": "Jan _2 15:04:05.000000000",
}
"""The layout constants of the Lua module (``time.RFC3339`` …), as Go spells them."""

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# Go's layout elements, longest first where one is a prefix of another.
_TOKENS = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|__2|_2|002|01|02|03|04|05|06|15|1|2|3|4|5|PM|pm"
    r"|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07"
    r"|[.,](?:0+|9+)(?!\d)"
)


# -- locations ------------------------------------------------------------------------------


def _tz(zone: str) -> tzinfo:
    """The tzinfo of a zone id other than ``"Local"``; INVALID for an id no location has."""
    try:
        return _tzinfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise errors.Error(errors.INVALID, f"unknown time zone {zone!r}") from None


@functools.lru_cache(maxsize=256)
def _tzinfo(zone: str) -> tzinfo:
    if zone in ("", "UTC"):
        return UTC
    if zone.startswith("fixed:"):
        _, offset, name = zone.split(":", 2)
        delta = timedelta(seconds=int(offset))
        return timezone(delta, name) if name else timezone(delta)
    return ZoneInfo(zone)


def load_location(name: str) -> str:
    """The zone id of an IANA name (``"UTC"`` and ``"Local"`` too); INVALID or NOT_FOUND.

    ``"Local"`` is the machine's zone: a workflow's ``LuaCore`` makes it UTC
    (``LuaCore.zone``), so that a replay on another machine sees the same clock.
    """
    if not name:
        raise errors.Error(errors.INVALID, "time.load_location: empty location name")
    if name == "UTC":
        return ""
    if name == "Local":
        return "Local"
    if name.startswith("fixed:"):  # an id, not a name: time.fixed_zone makes those
        raise errors.Error(errors.NOT_FOUND, f"unknown time zone {name}")
    try:
        _tzinfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise errors.Error(errors.NOT_FOUND, f"unknown time zone {name}") from None
    return name


def fixed_zone(name: str, offset: int) -> str:
    """The zone id of a fixed offset (seconds east of UTC) called ``name``."""
    if ":" in name:
        raise errors.Error(errors.INVALID, "time.fixed_zone: the name cannot contain ':'")
    if not -86_400 < offset < 86_400:
        raise errors.Error(errors.INVALID, "time.fixed_zone: the offset must be less than a day")
    return f"fixed:{offset}:{name}"


def zone_name(zone: str) -> str:
    """What ``location():string()`` shows: ``UTC``, ``Local``, the fixed zone's or IANA name."""
    if zone == "":
        return "UTC"
    if zone.startswith("fixed:"):
        return zone.split(":", 2)[2]
    return zone


# -- instants and fields --------------------------------------------------------------------
# Dates are computed on integers (Howard Hinnant's civil-days algorithms), so any year
# works; the tz database is only asked for a zone's offset and abbreviation.

_FIRST, _LAST = -62_135_596_800 + 86_400, 253_402_300_799 - 86_400  # what datetime can show


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted + 2) // 5 + 1
    month = shifted + 3 if shifted < 10 else shifted - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def _zone_at(seconds: int, zone: str) -> tuple[int, str | None]:
    """``(offset east of UTC in seconds, abbreviation)`` of ``zone`` at Unix second ``seconds``."""
    if zone == "":
        return 0, "UTC"
    clamped = min(max(seconds, _FIRST), _LAST)
    instant = _EPOCH + timedelta(seconds=clamped)
    # "Local": the OS's zone at that instant (its offset changes with daylight saving time).
    moment = instant.astimezone() if zone == "Local" else instant.astimezone(_tz(zone))
    offset = moment.utcoffset() or timedelta(0)
    unnamed = zone.startswith("fixed:") and zone.endswith(":")
    return int(offset.total_seconds()), None if unnamed else moment.tzname()


def fields(ns: int, zone: str) -> tuple[int, ...]:
    """``(year, month, day, hour, minute, second, nanosecond, weekday 0=Sunday, yearday, offset)``."""
    return _fields(ns, zone)[0]


def _fields(ns: int, zone: str) -> tuple[tuple[int, ...], str | None]:
    """:func:`fields` and the zone's abbreviation at that instant."""
    seconds, nsec = divmod(ns, _NS)
    offset, abbreviation = _zone_at(seconds, zone)
    days, clock = divmod(seconds + offset, 86_400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(clock, 3600)
    minute, second = divmod(rest, 60)
    yearday = days - _days_from_civil(year, 1, 1) + 1
    return (year, month, day, hour, minute, second, nsec, (days + 4) % 7, yearday, offset), abbreviation


def _norm(high: int, low: int, base: int) -> tuple[int, int]:
    """Carry ``low`` into ``high`` so that 0 <= low < base (Go's ``norm``)."""
    carry, low = divmod(low, base)
    return high + carry, low


def date(year: int, month: int, day: int, hour: int, minute: int, second: int, nsec: int, zone: str) -> int:
    """Go's ``time.Date``: fields out of range carry over (October 32 is November 1)."""
    year, month0 = _norm(year, month - 1, 12)
    second, nsec = _norm(second, nsec, _NS)
    minute, second = _norm(minute, second, 60)
    hour, minute = _norm(hour, minute, 60)
    day, hour = _norm(day, hour, 24)
    wall = (_days_from_civil(year, month0 + 1, 1) + day - 1) * 86_400 + hour * 3600 + minute * 60 + second
    offset = _zone_at(wall, zone)[0]  # the offset in force at that wall clock, as Go finds it
    corrected = _zone_at(wall - offset, zone)[0]
    return _checked((wall - corrected) * _NS + nsec)


def _checked(ns: int) -> int:
    if not _MIN_NS <= ns <= _MAX_NS:
        raise errors.Error(errors.INVALID, "time out of range: a Time holds years 1678 to 2262")
    return ns


def round_to(ns: int, step: int, *, nearest: bool) -> int:
    """Go's ``Round``/``Truncate``: multiples of ``step`` counted from Go's zero Time."""
    if step <= 0:
        return ns
    rest = (ns - ZERO_NS) % step
    if nearest and rest + rest >= step:
        return _checked(ns - rest + step)
    return ns - rest


def add_date(ns: int, zone: str, years: int, months: int, days: int) -> int:
    """Go's ``t.AddDate``: the same wall clock that many years, months and days later."""
    year, month, day, hour, minute, second, nsec = fields(ns, zone)[:7]
    return date(year + years, month + months, day + days, hour, minute, second, nsec, zone)


# -- layouts --------------------------------------------------------------------------------


def format_layout(ns: int, zone: str, layout: str) -> str:
    """Format instant ``ns`` shown in ``zone`` with a Go layout (or a layout constant's name)."""
    layout = LAYOUTS.get(layout, layout)
    parts, abbreviation = _fields(ns, zone)
    pieces: list[str] = []
    position = 0
    for match in _TOKENS.finditer(layout):
        pieces.append(layout[position : match.start()])
        pieces.append(_format_token(match.group(), parts, abbreviation))
        position = match.end()
    pieces.append(layout[position:])
    return "".join(pieces)


# Layout elements that show one field: (year, month, day, hour, minute, second, …) -> text.
_FIELD_TEXT = {
    "2006": lambda p: f"{p[0]:04d}",
    "06": lambda p: f"{p[0] % 100:02d}",
    "January": lambda p: _MONTHS[p[1] - 1],
    "Jan": lambda p: _MONTHS[p[1] - 1][:3],
    "01": lambda p: f"{p[1]:02d}",
    "1": lambda p: str(p[1]),
    "02": lambda p: f"{p[2]:02d}",
    "2": lambda p: str(p[2]),
    "_2": lambda p: f"{p[2]:2d}",
    "15": lambda p: f"{p[3]:02d}",
    "03": lambda p: f"{(p[3] % 12) or 12:02d}",
    "3": lambda p: str((p[3] % 12) or 12),
    "PM": lambda p: "PM" if p[3] >= 12 else "AM",
    "pm": lambda p: "pm" if p[3] >= 12 else "am",
    "04": lambda p: f"{p[4]:02d}",
    "4": lambda p: str(p[4]),
    "05": lambda p: f"{p[5]:02d}",
    "5": lambda p: str(p[5]),
    "Monday": lambda p: _DAYS[p[7]],
    "Mon": lambda p: _DAYS[p[7]][:3],
    "002": lambda p: f"{p[8]:03d}",
    "__2": lambda p: f"{p[8]:3d}",
}


def _format_token(token: str, parts: tuple[int, ...], abbreviation: str | None) -> str:
    field_text = _FIELD_TEXT.get(token)
    if field_text is not None:
        return field_text(parts)
    offset = parts[9]
    if token == "MST":  # Go shows an unnamed zone by its offset
        return abbreviation or _offset_text(offset, "-0700")
    if token[0] in ".,":
        text = f"{parts[6]:09d}"[: len(token) - 1]
        if token[1] == "9":
            text = text.rstrip("0")
            return token[0] + text if text else ""
        return token[0] + text
    if token[0] == "Z" and offset == 0:
        return "Z"
    return _offset_text(offset, token)


def _offset_text(offset: int, token: str) -> str:
    sign = "-" if offset < 0 else "+"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    style = token.lstrip("Z-")
    if style == "07":
        return f"{sign}{hours:02d}"
    if style == "0700":
        return f"{sign}{hours:02d}{minutes:02d}"
    if style == "07:00":
        return f"{sign}{hours:02d}:{minutes:02d}"
    if style == "070000":
        return f"{sign}{hours:02d}{minutes:02d}{seconds:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"


_PARSE = {
    "January": (r"[A-Za-z]{3,9}", "month_name"),
    "Jan": (r"[A-Za-z]{3}", "month_name"),
    "Monday": (r"[A-Za-z]{6,9}", "weekday"),
    "Mon": (r"[A-Za-z]{3}", "weekday"),
    "MST": (r"[A-Z]{3,5}|[+-]\d{2,4}", "zone_name"),
    "2006": (r"\d{4}", "year"),
    "06": (r"\d{2}", "year2"),
    "01": (r"\d{2}", "month"),
    "1": (r"\d{1,2}", "month"),
    "02": (r"\d{2}", "day"),
    "2": (r"\d{1,2}", "day"),
    "_2": (r" ?\d{1,2}", "day"),
    "002": (r"\d{3}", "yearday"),
    "__2": (r" {0,2}\d{1,3}", "yearday"),
    "15": (r"\d{1,2}", "hour"),
    "03": (r"\d{2}", "hour12"),
    "3": (r"\d{1,2}", "hour12"),
    "04": (r"\d{2}", "minute"),
    "4": (r"\d{1,2}", "minute"),
    "05": (r"\d{2}", "second"),
    "5": (r"\d{1,2}", "second"),
    "PM": (r"[AP]M", "ampm"),
    "pm": (r"[ap]m", "ampm"),
}


def parse_layout(layout: str, value: str, zone: str) -> tuple[int, str]:
    """Go's ``time.ParseInLocation``: ``(instant, zone id)``; INVALID when ``value`` does not fit.

    A value with a numeric offset (or ``Z``) keeps that offset as a fixed zone
    (UTC for zero); one without is read as a wall clock in ``zone``.  Fields
    the layout leaves out are zero, or one when zero is impossible (year 0,
    January 1, as Go).
    """
    layout = LAYOUTS.get(layout, layout)
    pattern: list[str] = []
    kinds: list[str] = []
    position = 0
    for match in _TOKENS.finditer(layout):
        pattern.append(re.escape(layout[position : match.start()]))
        regex, kind = _parse_token(match.group())
        pattern.append(f"({regex})")
        kinds.append(kind)
        position = match.end()
    pattern.append(re.escape(layout[position:]))
    found = re.fullmatch("".join(pattern), value)
    problem = f"cannot parse {value!r} as {layout!r}"
    if found is None:
        raise errors.Error(errors.INVALID, problem)
    values = {"year": 0, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "nsec": 0}
    pm: bool | None = None
    offset: int | None = None
    for kind, text in zip(kinds, found.groups(), strict=True):
        if kind in ("year", "month", "hour", "minute", "second"):
            values[kind] = int(text)
        elif kind == "year2":
            values["year"] = int(text) + (1900 if int(text) >= 69 else 2000)
        elif kind == "month_name":
            names = [name.lower() for name in _MONTHS]
            short = [name[:3] for name in names]
            lowered = text.lower()
            if lowered not in names and lowered not in short:
                raise errors.Error(errors.INVALID, f"{problem}: unknown month {text!r}")
            values["month"] = (names.index(lowered) if lowered in names else short.index(lowered)) + 1
        elif kind == "day":
            values["day"] = int(text.strip())
        elif kind == "hour12":
            values["hour"] = int(text) % 12
        elif kind == "fraction":
            values["nsec"] = int((text[1:] + "000000000")[:9]) if len(text) > 1 else 0
        elif kind == "ampm":
            pm = text.lower() == "pm"
        elif kind == "offset":
            offset = _parse_offset(text)
    if pm:
        values["hour"] += 12
    month, day = values["month"], values["day"]
    days_in_month = (
        _days_from_civil(values["year"] + month // 12, month % 12 + 1, 1)
        - _days_from_civil(values["year"], month, 1)
        if 1 <= month <= 12
        else 0
    )
    if not (
        1 <= month <= 12
        and 1 <= day <= days_in_month
        and values["hour"] < 24
        and values["minute"] < 60
        and values["second"] < 60
    ):
        raise errors.Error(errors.INVALID, f"{problem}: a field is out of range")
    if offset is not None:
        zone = "" if offset == 0 else f"fixed:{offset}:"
    instant = date(
        values["year"], month, day, values["hour"], values["minute"], values["second"], values["nsec"], zone
    )
    return instant, zone


def _parse_token(token: str) -> tuple[str, str]:
    known = _PARSE.get(token)
    if known is not None:
        return known
    if token[0] in ".,":
        digits = len(token) - 1
        return (r"[.,]\d+" if token[1] == "9" else rf"[.,]\d{{{digits}}}", "fraction")
    if token[0] == "Z":
        return (r"Z|[+-]\d{2}(?::?\d{2}){0,2}", "offset")
    return (r"[+-]\d{2}(?::?\d{2}){0,2}", "offset")


def _parse_offset(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return sign * (hours * 3600 + minutes * 60 + seconds)
