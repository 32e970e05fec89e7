"""JSON Schema validation for ``json.validate`` (draft 7 and 2020-12 keywords).

A small validator of its own: the schema and the data are plain Python values
converted from Lua (or parsed from JSON), and nothing here touches the clock,
randomness or the outside world, so workflows may use it.  Every assertion
keyword of the two drafts is checked, ``format`` included for the common
formats (as Wippy's validator does); the annotation keywords (``title``,
``default``, …) are ignored as the standard says.  A schema that uses what is
not supported here (``unevaluatedProperties``/``Items``, a ``$ref`` outside the
schema itself) is refused with ``INVALID``, never half-checked.

A Lua table that is empty is both an empty object and an empty array: it
passes ``type = "object"`` and ``type = "array"`` alike.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from urllib.parse import unquote, urlsplit

from actors import errors

__all__ = ["SchemaError", "validate"]

_MAX_REPORTED = 10
_MAX_DEPTH = 64
_UNSUPPORTED = ("unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef")


class SchemaError(Exception):
    """The schema itself is not one this validator can apply."""


def validate(schema: Any, data: Any) -> list[tuple[str, str]]:
    """The problems of ``data`` against ``schema``: ``(path, message)`` pairs, at most ten;
    an empty list when it is valid.  Raises :class:`SchemaError` for a schema it cannot apply."""
    if not isinstance(schema, (dict, bool)):
        raise SchemaError("a schema is an object or a boolean")
    return list(_first(_Validator(schema).problems(schema, data, "", 0), _MAX_REPORTED))


def _first(items: Iterator[tuple[str, str]], count: int) -> Iterator[tuple[str, str]]:
    for index, item in enumerate(items):
        if index >= count:
            return
        yield item


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, (str, bytes)):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, name: str) -> bool:
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "integer":
        if isinstance(value, float):
            return math.isfinite(value) and value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "array":
        return isinstance(value, list) or value == {}
    if name == "object":
        return isinstance(value, dict)
    if name not in ("null", "boolean", "string"):
        raise SchemaError(f"unknown type {name!r}")
    return _type_of(value) == name


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, true does not equal 1, {} equals []."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, dict)) and isinstance(b, (list, dict)) and not a and not b:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    return a == b


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


def _format_ok(fmt: str, value: str) -> bool:
    """Whether ``value`` has format ``fmt``; formats it does not know pass."""
    try:
        if fmt == "email":
            return bool(_EMAIL.match(value))
        if fmt == "date-time":
            return "T" in value.upper() and datetime.fromisoformat(value.replace("z", "Z")) is not None
        if fmt == "date":
            return len(value) == 10 and date.fromisoformat(value) is not None
        if fmt == "time":
            return time.fromisoformat(value.replace("z", "Z")) is not None
        if fmt == "uuid":
            return bool(_UUID.match(value))
        if fmt in ("uri", "iri"):
            parts = urlsplit(value)
            return bool(parts.scheme) and parts.scheme[0].isalpha()
        if fmt == "ipv4":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
        if fmt == "ipv6":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
        if fmt in ("hostname", "idn-hostname"):
            return bool(_HOSTNAME.match(value))
        if fmt == "duration":
            return bool(_DURATION.match(value))
        if fmt == "regex":
            re.compile(value)
            return True
    except (ValueError, re.error):
        return False
    return True


class _Validator:
    """One schema document: ``$ref`` pointers resolve inside it."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self._patterns: dict[str, re.Pattern[str]] = {}

    def _pattern(self, pattern: Any) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            try:
                compiled = self._patterns[pattern] = re.compile(_text(pattern))
            except (re.error, TypeError) as exc:
                raise SchemaError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        return compiled

    def _resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"$ref {ref!r}: only references inside the schema (#/…) are supported")
        target = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else ():
            key = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and key in target:
                target = target[key]
            elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            else:
                raise SchemaError(f"$ref {ref!r} points to nothing in the schema")
        return target

    def problems(self, schema: Any, value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
        if depth > _MAX_DEPTH:
            raise SchemaError("the schema nests (or refers to itself) too deeply")
        if schema is True:
            return
        if schema is False:
            yield path or "/", "no value is allowed here"
            return
        if not isinstance(schema, dict):
            raise SchemaError(f"at {path or '/'}: a schema is an object or a boolean")
        for keyword in _UNSUPPORTED:
            if keyword in schema:
                raise SchemaError(f"{keyword} is not supported")
        here = path or "/"
        if "$ref" in schema:
            yield from self.problems(self._resolve(schema["$ref"]), value, path, depth + 1)
        yield from self._generic(schema, value, here)
        if _is_type(value, "number"):
            yield from self._number(schema, value, here)
        elif isinstance(value, (str, bytes)):
            yield from self._string(schema, _text(value), here)
        if isinstance(value, list) or value == {}:
            yield from self._array(schema, value if isinstance(value, list) else [], path, depth)
        if isinstance(value, dict):
            yield from self._object(schema, value, path, depth)
        yield from self._combined(schema, value, path, depth)

    def _generic(self, schema: dict[str, Any], value: Any, here: str) -> Iterator[tuple[str, str]]:
        if "type" in schema:
            wanted = schema["type"]
            names = wanted if isinstance(wanted, list) else [wanted]
            if not any(_is_type(value, name) for name in names):
                yield here, f"expected {' or '.join(map(str, names))}, got {_type_of(value)}"
        if "enum" in schema and not any(_equal(value, item) for item in schema["enum"] or []):
            yield here, f"value is not one of {schema['enum']!r}"
        if "const" in schema and not _equal(value, schema["const"]):
            yield here, f"value must be {schema['const']!r}"

    def _number(self, schema: dict[str, Any], value: float, here: str) -> Iterator[tuple[str, str]]:
        low, high = schema.get("minimum"), schema.get("maximum")
        exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if exclusive_low is True:  # draft 4's boolean form
            exclusive_low, low = low, None
        if exclusive_high is True:
            exclusive_high, high = high, None
        if low is not None and value < low:
            yield here, f"{value} is less than the minimum {low}"
        if high is not None and value > high:
            yield here, f"{value} is greater than the maximum {high}"
        if (
            isinstance(exclusive_low, (int, float))
            and not isinstance(exclusive_low, bool)
            and value <= exclusive_low
        ):
            yield here, f"{value} is not greater than {exclusive_low}"
        if (
            isinstance(exclusive_high, (int, float))
            and not isinstance(exclusive_high, bool)
            and value >= exclusive_high
        ):
            yield here, f"{value} is not less than {exclusive_high}"
        step = schema.get("multipleOf")
        if step:
            quotient = value / step
            if not (math.isfinite(quotient) and abs(quotient - round(quotient)) < 1e-9):
                yield here, f"{value} is not a multiple of {step}"

    def _string(self, schema: dict[str, Any], value: str, here: str) -> Iterator[tuple[str, str]]:
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield here, f"text is shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield here, f"text is longer than {schema['maxLength']} characters"
        if "pattern" in schema and not self._pattern(schema["pattern"]).search(value):
            yield here, f"text does not match {_text(schema['pattern'])!r}"
        fmt = schema.get("format")
        if isinstance(fmt, str) and not _format_ok(fmt, value):
            yield here, f"{value!r} is not a valid {fmt}"

    def _array(
        self, schema: dict[str, Any], value: list[Any], path: str, depth: int
    ) -> Iterator[tuple[str, str]]:
        here = path or "/"
        if "minItems" in schema and len(value) < schema["minItems"]:
            yield here, f"fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield here, f"more than {schema['maxItems']} items"
        if schema.get("uniqueItems"):
            for index, item in enumerate(value):
                if any(_equal(item, other) for other in value[:index]):
                    yield f"{path}/{index}", "items are not unique"
                    break
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 7's tuple form
            prefix, items = items, schema.get("additionalItems")
        prefix = prefix or []
        for index, item in enumerate(value):
            item_schema = prefix[index] if index < len(prefix) else items
            if item_schema is not None:
                yield from self.problems(item_schema, item, f"{path}/{index}", depth + 1)
        if "contains" in schema:
            found = sum(
                1
                for item in value
                if not any(True for _ in self.problems(schema["contains"], item, path, depth + 1))
            )
            least = schema.get("minContains", 1)
            if found < least:
                yield here, f"fewer than {least} items match 'contains'"
            if "maxContains" in schema and found > schema["maxContains"]:
                yield here, f"more than {schema['maxContains']} items match 'contains'"

    def _object(
        self, schema: dict[str, Any], value: dict[Any, Any], path: str, depth: int
    ) -> Iterator[tuple[str, str]]:
        here = path or "/"
        for name in schema.get("required") or []:
            if name not in value:
                yield here, f"missing required property {name!r}"
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            yield here, f"fewer than {schema['minProperties']} properties"
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            yield here, f"more than {schema['maxProperties']} properties"
        properties = schema.get("properties") or {}
        patterns = schema.get("patternProperties") or {}
        extra = schema.get("additionalProperties")
        for key, item in sorted(value.items(), key=lambda pair: str(pair[0])):  # in a stable order
            name = str(key)
            where = f"{path}/{name}"
            matched = False
            if name in properties:
                matched = True
                yield from self.problems(properties[name], item, where, depth + 1)
            for pattern, sub in patterns.items():
                if self._pattern(pattern).search(name):
                    matched = True
                    yield from self.problems(sub, item, where, depth + 1)
            if not matched and extra is not None:
                if extra is False:
                    yield where, f"property {name!r} is not allowed"
                else:
                    yield from self.problems(extra, item, where, depth + 1)
            if "propertyNames" in schema:
                yield from self.problems(schema["propertyNames"], name, where, depth + 1)
        dependent = dict(schema.get("dependentRequired") or {})
        for name, needs in (schema.get("dependencies") or {}).items():
            if isinstance(needs, list):
                dependent[name] = needs
            elif name in value:
                yield from self.problems(needs, value, path, depth + 1)
        for name, needs in dependent.items():
            if name in value:
                for other in needs:
                    if other not in value:
                        yield here, f"property {other!r} is required when {name!r} is present"
        for name, sub in (schema.get("dependentSchemas") or {}).items():
            if name in value:
                yield from self.problems(sub, value, path, depth + 1)

    def _valid(self, schema: Any, value: Any, path: str, depth: int) -> bool:
        return not any(True for _ in self.problems(schema, value, path, depth + 1))

    def _combined(
        self, schema: dict[str, Any], value: Any, path: str, depth: int
    ) -> Iterator[tuple[str, str]]:
        here = path or "/"
        for sub in schema.get("allOf") or []:
            yield from self.problems(sub, value, path, depth + 1)
        if "anyOf" in schema and not any(self._valid(sub, value, path, depth) for sub in schema["anyOf"]):
            yield here, "value matches none of 'anyOf'"
        if "oneOf" in schema:
            matches = sum(1 for sub in schema["oneOf"] if self._valid(sub, value, path, depth))
            if matches != 1:
                yield here, f"value matches {matches} of 'oneOf', not exactly one"
        if "not" in schema and self._valid(schema["not"], value, path, depth):
            yield here, "value matches 'not'"
        if "if" in schema:
            branch = (
                schema.get("then") if self._valid(schema["if"], value, path, depth) else schema.get("else")
            )
            if branch is not None:
                yield from self.problems(branch, value, path, depth + 1)


def problems_error(problems: list[tuple[str, str]]) -> errors.Error:
    """The ``INVALID`` error ``json.validate`` returns for ``problems``."""
    text = "; ".join(f"{path}: {message}" for path, message in problems)
    return errors.Error(
        errors.INVALID,
        f"validation failed: {text}",
        retryable=False,
        details={"errors": [{"path": path, "message": message} for path, message in problems]},
    )
