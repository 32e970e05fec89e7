"""The ``text`` module (Wippy's ``en/lua/text/text.md``): RE2 regexps, diffs and patches, splitters.

Regular expressions are RE2 (``google-re2``), as in Wippy: matching takes
time linear in the input, so an untrusted pattern cannot hang a worker.
They work on bytes, as Go's do, so indexes are byte offsets a Lua
``string.sub`` understands.  Diffs and patches are Google's
diff-match-patch, the algorithm Wippy's go-diff implements; in a workflow
the diff has no time limit (a time limit would not replay the same), its
inputs are bounded instead.  Splitters follow langchaingo's recursive
character splitter, lengths counted in characters.
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from typing import Any

import re2
from diff_match_patch import diff_match_patch

from actors import errors
from actors.lua.modules import Caller, register_module

__all__ = ["MAX_DIFF_INPUT", "MAX_MATCHES", "split_recursive"]

MAX_DIFF_INPUT = 1024 * 1024
"""The longest text ``diff:compare`` and the patch functions take (characters)."""
MAX_MATCHES = 100_000
"""The most matches one ``find_all_*`` or ``split`` returns."""
_CACHE_SIZE = 256

_compiled: dict[bytes, Any] = {}
_lock = threading.Lock()
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is the caller's INVALID error, not a line on stderr


def _bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise errors.Error(errors.INVALID, f"{what}: expected a string")


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise errors.Error(errors.INVALID, f"{what}: expected a string")


# -- regular expressions ---------------------------------------------------------------------------


def _regexp(pattern: Any) -> Any:
    source = _bytes(pattern, "text.regexp.compile")
    compiled = _compiled.get(source)
    if compiled is None:
        try:
            compiled = re2.compile(source, _OPTIONS)
        except Exception as exc:  # re2.error and friends
            raise errors.Error(errors.INVALID, f"text.regexp.compile: invalid pattern: {exc}") from None
        with _lock:
            if len(_compiled) >= _CACHE_SIZE:
                _compiled.clear()
            _compiled[source] = compiled
    return compiled


def _matches(regexp: Any, subject: bytes, limit: int) -> list[Any]:
    """Go's FindAll: non-overlapping matches, an empty one right after a match skipped."""
    found: list[Any] = []
    previous_end = -1
    for match in regexp.finditer(subject):
        if match.start() == match.end() and match.start() == previous_end:
            continue
        found.append(match)
        previous_end = match.end()
        if len(found) >= limit:
            break
    return found


def _limit(n: Any) -> int:
    if n is None or (isinstance(n, int) and n < 0):
        return MAX_MATCHES
    if isinstance(n, bool) or not isinstance(n, int):
        raise errors.Error(errors.INVALID, "text.regexp: n must be an integer")
    return min(n, MAX_MATCHES)


def _groups(match: Any, count: int) -> list[bytes]:
    return [match.group(index) or b"" for index in range(count + 1)]


def _re_compile(caller: Caller, pattern: Any) -> bool:
    _regexp(pattern)
    return True


def _re(caller: Caller, method: str, pattern: Any, subject: Any = None, extra: Any = None) -> Any:
    regexp = _regexp(pattern)
    if method == "num_subexp":
        return regexp.groups
    if method == "subexp_names":
        names = [""] * (regexp.groups + 1)
        for name, index in regexp.groupindex.items():
            names[index] = name.decode() if isinstance(name, bytes) else name
        return names
    data = _bytes(subject, f"re:{method}")
    if method == "match_string":
        return regexp.search(data) is not None
    if method == "find_string":
        match = regexp.search(data)
        return None if match is None else match.group(0)
    if method == "find_string_submatch":
        match = regexp.search(data)
        return None if match is None else _groups(match, regexp.groups)
    if method == "find_string_index":
        match = regexp.search(data)
        return None if match is None else [match.start() + 1, match.end()]
    if method == "find_all_string":
        return [match.group(0) for match in _matches(regexp, data, _limit(extra))]
    if method == "find_all_string_submatch":
        return [_groups(match, regexp.groups) for match in _matches(regexp, data, _limit(extra))]
    if method == "find_all_string_index":
        found = _matches(regexp, data, _limit(extra))
        return [[match.start() + 1, match.end()] for match in found] or None
    if method == "replace_all_string":
        return _replace_all(regexp, data, _bytes(extra, "re:replace_all_string"))
    if method == "split":
        return _split(regexp, data, extra)
    raise errors.Error(errors.INVALID, f"text.regexp: no method {method!r}")


_TEMPLATE = re.compile(rb"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expand(template: bytes, match: Any, regexp: Any) -> bytes:
    """Go's Regexp.Expand: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""

    def group(found: re.Match[bytes]) -> bytes:
        if found.group(1) == b"$":
            return b"$"
        name = (found.group(2) or found.group(3)).decode()
        if name.isdigit():
            index = int(name)
            return (match.group(index) or b"") if index <= regexp.groups else b""
        index = regexp.groupindex.get(name, regexp.groupindex.get(name.encode()))
        return (match.group(index) or b"") if index is not None else b""

    return _TEMPLATE.sub(group, template)


def _replace_all(regexp: Any, data: bytes, template: bytes) -> bytes:
    parts: list[bytes] = []
    last = 0
    for match in _matches(regexp, data, MAX_MATCHES):
        parts.append(data[last : match.start()])
        parts.append(_expand(template, match, regexp))
        last = match.end()
    parts.append(data[last:])
    return b"".join(parts)


def _split(regexp: Any, data: bytes, n: Any) -> list[bytes] | None:
    """Go's Regexp.Split."""
    if n is None:
        n = -1
    if isinstance(n, bool) or not isinstance(n, int):
        raise errors.Error(errors.INVALID, "re:split: n must be an integer")
    if n == 0:
        return None
    if regexp.pattern and not data:
        return [b""]
    parts: list[bytes] = []
    begin = end = 0
    for match in _matches(regexp, data, MAX_MATCHES if n < 0 else min(n, MAX_MATCHES)):
        if n > 0 and len(parts) == n - 1:
            break
        end = match.start()
        if match.end() != 0:
            parts.append(data[begin:end])
        begin = match.end()
    if end != len(data):
        parts.append(data[begin:])
    return parts


# -- diffs and patches -----------------------------------------------------------------------------

_OPERATIONS = {-1: "delete", 0: "equal", 1: "insert"}
_CODES = {name: code for code, name in _OPERATIONS.items()}


def _differ(caller: Caller, options: Any) -> diff_match_patch:
    differ = diff_match_patch()
    settings = options if isinstance(options, dict) else {}
    numbers = {
        "diff_timeout": "Diff_Timeout",
        "diff_edit_cost": "Diff_EditCost",
        "match_threshold": "Match_Threshold",
        "match_distance": "Match_Distance",
        "patch_delete_threshold": "Patch_DeleteThreshold",
        "patch_margin": "Patch_Margin",
    }
    for key, attribute in numbers.items():
        value = settings.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise errors.Error(errors.INVALID, f"text.diff.new: {key} must be a non-negative number")
        setattr(differ, attribute, value)
    if caller.in_workflow:
        differ.Diff_Timeout = 0  # a time limit would not replay the same: the inputs are bounded instead
    return differ


def _bounded(value: Any, what: str) -> str:
    result = _text(value, what)
    if len(result) > MAX_DIFF_INPUT:
        raise errors.Error(errors.LIMIT_EXCEEDED, f"{what}: text longer than {MAX_DIFF_INPUT} characters")
    return result


def _diffs(value: Any) -> list[tuple[int, str]]:
    if not isinstance(value, list):
        raise errors.Error(errors.INVALID, "text.diff: expected the diffs compare returned")
    result = []
    for item in value:
        if not isinstance(item, dict) or item.get("operation") not in _CODES:
            raise errors.Error(errors.INVALID, "text.diff: each diff needs operation and text")
        result.append((_CODES[item["operation"]], _text(item.get("text", ""), "text.diff")))
    return result


def _diff(caller: Caller, method: str, options: Any, first: Any = None, second: Any = None) -> Any:
    differ = _differ(caller, options)
    if method == "check":
        return True
    if method == "compare":
        diffs = differ.diff_main(_bounded(first, "diff:compare"), _bounded(second, "diff:compare"))
        differ.diff_cleanupSemantic(diffs)
        return [{"operation": _OPERATIONS[code], "text": text} for code, text in diffs]
    if method == "summarize":
        counts = {"insertions": 0, "deletions": 0, "equals": 0}
        names = {1: "insertions", -1: "deletions", 0: "equals"}
        for code, text in _diffs(first):
            counts[names[code]] += len(text)
        return counts
    if method == "pretty_text":
        colors = {1: "\x1b[32m", -1: "\x1b[31m"}
        return "".join(text if code == 0 else f"{colors[code]}{text}\x1b[0m" for code, text in _diffs(first))
    if method == "pretty_html":
        tags = {1: "ins", -1: "del"}
        parts = []
        for code, text in _diffs(first):
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(escaped if code == 0 else f"<{tags[code]}>{escaped}</{tags[code]}>")
        return "".join(parts)
    if method == "patch_make":
        patches = differ.patch_make(_bounded(first, "diff:patch_make"), _bounded(second, "diff:patch_make"))
        return [differ.patch_toText([patch]) for patch in patches]
    if method == "patch_apply":
        if not isinstance(first, list):
            raise errors.Error(errors.INVALID, "diff:patch_apply: expected the patches patch_make returned")
        try:
            patches = [
                patch for text in first for patch in differ.patch_fromText(_text(text, "diff:patch_apply"))
            ]
        except ValueError as exc:
            raise errors.Error(errors.INVALID, f"diff:patch_apply: {exc}") from None
        result, applied = differ.patch_apply(patches, _bounded(second, "diff:patch_apply"))
        return result, all(applied)
    raise errors.Error(errors.INVALID, f"text.diff: no method {method!r}")


# -- splitters -------------------------------------------------------------------------------------

_DEFAULT_SEPARATORS = ["\n\n", "\n", " ", ""]


def _splitter_options(options: Any, markdown: bool) -> dict[str, Any]:
    settings = options if isinstance(options, dict) else {}
    size = settings.get("chunk_size", 512)
    overlap = settings.get("chunk_overlap", 100)
    for key, value in (("chunk_size", size), ("chunk_overlap", overlap)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise errors.Error(errors.INVALID, f"text.splitter: {key} must be a non-negative integer")
    if size < 1:
        raise errors.Error(errors.INVALID, "text.splitter: chunk_size must be at least 1")
    if overlap >= size:
        raise errors.Error(errors.INVALID, "text.splitter: chunk_overlap must be smaller than chunk_size")
    separators = settings.get("separators")
    if separators is not None and (
        not isinstance(separators, list) or not all(isinstance(item, str) for item in separators)
    ):
        raise errors.Error(errors.INVALID, "text.splitter: separators must be a list of strings")
    return {
        "chunk_size": size,
        "chunk_overlap": overlap,
        "separators": separators or list(_DEFAULT_SEPARATORS),
        "keep_separator": settings.get("keep_separator") is True,
        "markdown": markdown,
        "code_blocks": settings.get("code_blocks") is True,
        "heading_hierarchy": settings.get("heading_hierarchy") is True,
    }


def _merge(splits: list[str], separator: str, size: int, overlap: int) -> list[str]:
    """Join small pieces into chunks of at most ``size`` characters, ``overlap`` repeated."""
    chunks: list[str] = []
    current: list[str] = []
    total = 0
    gap = len(separator)
    for piece in splits:
        length = len(piece)
        if total + length + (gap if current else 0) > size and current:
            chunk = separator.join(current).strip()
            if chunk:
                chunks.append(chunk)
            while total > overlap or (total + length + (gap if current else 0) > size and total > 0):
                total -= len(current[0]) + (gap if len(current) > 1 else 0)
                current.pop(0)
        current.append(piece)
        total += length + (gap if len(current) > 1 else 0)
    chunk = separator.join(current).strip()
    if chunk:
        chunks.append(chunk)
    return chunks


def split_recursive(
    text: str, separators: list[str], size: int, overlap: int, keep: bool = False
) -> list[str]:
    """langchaingo's recursive character splitter."""
    separator = separators[-1]
    rest: list[str] = []
    for index, candidate in enumerate(separators):
        if candidate == "":
            separator = candidate
            break
        if candidate in text:
            separator = candidate
            rest = separators[index + 1 :]
            break
    if separator:
        pieces = text.split(separator)
        if keep:
            pieces = [pieces[0], *(separator + piece for piece in pieces[1:])]
    else:
        pieces = list(text)
    joiner = "" if keep else separator
    chunks: list[str] = []
    small: list[str] = []
    for piece in pieces:
        if len(piece) < size:
            small.append(piece)
            continue
        if small:
            chunks.extend(_merge(small, joiner, size, overlap))
            small = []
        if rest:
            chunks.extend(split_recursive(piece, rest, size, overlap, keep))
        else:
            chunks.append(piece)
    if small:
        chunks.extend(_merge(small, joiner, size, overlap))
    return chunks


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _markdown_sections(text: str, code_blocks: bool) -> list[tuple[list[str], str]]:
    """The document cut at its headings: (heading path, section text); fences are never cut."""
    sections: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False
    heads: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is not None:
            if "\n".join(lines).strip():
                sections.append((heads, "\n".join(lines)))
            level = len(heading.group(1))
            path = [item for item in path if item[0] < level] + [(level, line)]
            heads = [item[1] for item in path]
            lines = [line]
            continue
        lines.append(line)
    if "\n".join(lines).strip():
        sections.append((heads, "\n".join(lines)))
    return sections


def _split_document(settings: dict[str, Any], text: str) -> list[str]:
    size, overlap = settings["chunk_size"], settings["chunk_overlap"]
    if not settings["markdown"]:
        return split_recursive(text, settings["separators"], size, overlap, settings["keep_separator"])
    chunks: list[str] = []
    for heads, section in _markdown_sections(text, settings["code_blocks"]):
        prefix = "\n".join(heads[:-1]) + "\n" if settings["heading_hierarchy"] and len(heads) > 1 else ""
        if len(section) <= size:
            chunks.append(prefix + section.strip())
            continue
        for chunk in split_recursive(section, ["\n\n", "\n", " ", ""], size, overlap):
            chunks.append(prefix + chunk)
    return chunks


def _splitter(caller: Caller, method: str, options: Any, markdown: Any, value: Any = None) -> Any:
    settings = _splitter_options(options, markdown is True)
    if method == "check":
        return True
    if method == "split_text":
        return _split_document(settings, _text(value, "splitter:split_text"))
    if method == "split_batch":
        if not isinstance(value, list):
            raise errors.Error(errors.INVALID, "splitter:split_batch: expected a list of {content, metadata}")
        result = []
        for page in value:
            if not isinstance(page, dict):
                raise errors.Error(errors.INVALID, "splitter:split_batch: each page is {content, metadata}")
            metadata = page.get("metadata") or {}
            for chunk in _split_document(settings, _text(page.get("content", ""), "splitter:split_batch")):
                result.append({"content": chunk, "metadata": metadata})
        return result
    raise errors.Error(errors.INVALID, f"text.splitter: no method {method!r}")


register_module(
    "text",
    resources.files(__package__) / "text.lua",
    {"re_compile": _re_compile, "re": _re, "diff": _diff, "splitter": _splitter},
    in_workflows=True,
)
