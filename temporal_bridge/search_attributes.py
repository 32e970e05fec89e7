"""Search attributes from plain Lua tables, with their types inferred.

string → Keyword, boolean → Bool, integer → Int, other number → Double,
list of strings → KeywordList (the runtime's rule).  Anything else is an
``INVALID`` error naming the attribute.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from actors import errors

__all__ = ["attribute_key", "search_attribute_updates", "typed_search_attributes"]


def attribute_key(name: str, value: Any) -> SearchAttributeKey[Any]:
    if isinstance(value, bool):
        return SearchAttributeKey.for_bool(name)
    if isinstance(value, int):
        return SearchAttributeKey.for_int(name)
    if isinstance(value, float):
        return SearchAttributeKey.for_float(name)
    if isinstance(value, str):
        return SearchAttributeKey.for_keyword(name)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return SearchAttributeKey.for_keyword_list(name)
    raise errors.Error(errors.INVALID, f"search attribute {name!r}: unsupported value {value!r}")


def typed_search_attributes(values: dict[str, Any]) -> TypedSearchAttributes:
    """Start options' ``search_attributes`` as temporalio typed attributes."""
    pairs = [SearchAttributePair(attribute_key(str(name), value), value) for name, value in values.items()]
    return TypedSearchAttributes(pairs)


def search_attribute_updates(values: Any) -> list[SearchAttributeUpdate[Any]]:
    """``workflow.attrs{search=…}`` as upserts."""
    if not isinstance(values, dict):
        raise errors.Error(errors.INVALID, "workflow.attrs: search must be a table")
    return [attribute_key(str(name), value).value_set(value) for name, value in values.items()]
