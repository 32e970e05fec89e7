"""Reading untrusted YAML within limits, with the line of every mapping and list.

A YAML file is untrusted input, so reading one is bounded: its nesting
(:data:`MAX_YAML_DEPTH`, checked while composing, so no ``RecursionError``)
and the number of nodes it would have once every alias is expanded
(:data:`MAX_YAML_NODES`, checked on the composed node graph before anything
is built, so a "billion laughs" file of a few hundred bytes is refused at
once instead of filling the memory); recursive aliases are refused too.  The
size (:data:`MAX_YAML_BYTES`) is for the caller to check before reading.
The app loader reads definition files with it, the Lua ``yaml`` module
decodes with it.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "TooLarge", "parse", "plain"]

MAX_YAML_BYTES = 4 * 1024 * 1024
"""The largest definition file read (bytes)."""
MAX_YAML_DEPTH = 64
"""The deepest nesting of mappings and lists in a definition file."""
MAX_YAML_NODES = 100_000
"""The most nodes a definition file may hold with every alias expanded."""


class _Map(dict):  # type: ignore[type-arg]
    line = 0


class _List(list):  # type: ignore[type-arg]
    line = 0


class TooLarge(Exception):
    """A definition file past one of the reading limits; ``line`` is where."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings and lists remember their line, with bounded nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise TooLarge(f"nested deeper than {MAX_YAML_DEPTH} levels", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # a scalar no Python value holds: 2020-02-30, 10**5000
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r:.60}: {exc}", node.start_mark
            ) from None


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose alias expansion is too large or recursive.

    Aliases make the composed graph a DAG whose expanded size can be
    exponential in the file's size; each node's expanded size is computed
    once (post-order, iteratively), so the check itself is linear.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > MAX_YAML_NODES:
                raise TooLarge(
                    f"too large once its aliases are expanded (more than {MAX_YAML_NODES} nodes)",
                    node.start_mark.line + 1,
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise TooLarge(
                "an alias refers to a node that contains it (recursive alias)", node.start_mark.line + 1
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def parse(text: str) -> Any:
    """The document in ``text``, built only after the limits are checked.

    Mappings and lists carry ``line`` (1-based) where they start.  Raises
    :class:`TooLarge` past a limit and ``yaml.YAMLError`` for what is not YAML
    (a scalar no Python value holds, such as ``2020-02-30``, included).
    """
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    mapping = _Map(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _List:
    sequence = _List(loader.construct_sequence(node, deep=True))
    sequence.line = node.start_mark.line + 1
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def plain(value: Any) -> Any:
    """``value`` without the line-tracking subclasses (plain dicts and lists)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
