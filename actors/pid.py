"""Process identifiers.

A PID names one process for its whole life.  Its text form is the one the Lua
API and the Wippy runtime use::

    {app:processes|0x00001}                     local process (default node)
    {node1@app:processes|0x00001}               process on node ``node1``
    {app:temporal_client@app:worker|order-123}  Temporal workflow

``host`` is the registry ID of the host that owns the process, ``uniq`` is
unique within the node (a hex counter for local processes, the workflow ID for
workflows) and ``node`` routes the PID: empty for the local node, a
``temporal.client`` entry ID for workflows.  The node named ``local`` is the
default and never printed.

**Escaping.**  A workflow ID may be any text Temporal accepts, ``|``, ``{``
and ``}`` included (``"counter-" .. process.pid()`` is
``counter-{app:processes|0x00001}``).  So that every PID's text parses back
to the same PID, the ``uniq`` part is printed with those three characters and
``%`` percent-encoded: ``%7C``, ``%7B``, ``%7D``, ``%25``::

    PID("app:worker", "counter-{app:processes|0x00001}", "app:temporal_client")
    {app:temporal_client@app:worker|counter-%7Bapp:processes%7C0x00001%7D}

Parsing decodes them (upper or lower case hex); a ``%`` followed by anything
else is kept as it is.  The IDs of local processes (``0x00001``) never need
escaping, so their text is unchanged.  ``uniq`` itself (the workflow ID
Temporal knows) is always the plain text.
"""

from __future__ import annotations

import re
from typing import Any

from actors import errors

__all__ = ["LOCAL_NODE", "MAX_PID_LENGTH", "PID", "escape_uniq", "is_pid_text", "unescape_uniq"]

LOCAL_NODE = "local"

MAX_PID_LENGTH = 4096
"""The longest PID text :meth:`PID.parse` accepts (a Temporal workflow ID is at most 1,000
characters, 3,000 once its ``|``, ``{``, ``}`` and ``%`` are escaped)."""

_ESCAPES = {"%": "%25", "|": "%7C", "{": "%7B", "}": "%7D"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_UNESCAPE = re.compile("%(25|7[CcBbDd])")
_UNESCAPED = {"25": "%", "7C": "|", "7B": "{", "7D": "}"}


def escape_uniq(uniq: str) -> str:
    """``uniq`` as printed in a PID's text: ``%``, ``|``, ``{``, ``}`` percent-encoded."""
    if uniq.isalnum() or not ("%" in uniq or "|" in uniq or "{" in uniq or "}" in uniq):
        return uniq
    return uniq.translate(_ESCAPE_TABLE)


def unescape_uniq(text: str) -> str:
    """The ``uniq`` a PID's text names (the inverse of :func:`escape_uniq`)."""
    if "%" not in text:
        return text
    return _UNESCAPE.sub(lambda match: _UNESCAPED[match.group(1).upper()], text)


_PARSED_LIMIT = 50_000
_CACHED_LENGTH = 256  # longer texts are parsed every time: the cache stays small
_parsed: dict[str, PID] = {}


class PID:
    """An immutable, hashable, ordered process identifier."""

    __slots__ = ("_hash", "_text", "host", "node", "uniq")

    node: str
    host: str
    uniq: str

    def __init__(self, host: str, uniq: str, node: str = "") -> None:
        if node == LOCAL_NODE:
            node = ""
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "uniq", uniq)
        printed = escape_uniq(uniq)
        text = f"{{{node}@{host}|{printed}}}" if node else f"{{{host}|{printed}}}"
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_hash", hash(text))

    @classmethod
    def parse(cls, text: str) -> PID:
        """Parse the ``{[node@]host|uniq}`` form; ``INVALID`` error when malformed.

        The ``uniq`` part is unescaped (see the module docstring).  The PID
        parsed always prints as a text that parses back to it: a text that
        would not (``{local@a@b|1}``, whose host ``a@b`` would print as node
        ``a``) is refused, and so is one longer than :data:`MAX_PID_LENGTH`.  PIDs are immutable, so recent parses are
        kept: Lua code names every destination by its text, and sends to
        the same PIDs again and again.
        """
        if cls is PID and type(text) is str:
            known = _parsed.get(text)
            if known is not None:
                return known
        if not isinstance(text, str) or not is_pid_text(text):
            raise errors.Error(errors.INVALID, f"malformed PID {text!r:.200}: expected {{[node@]host|id}}")
        if len(text) > MAX_PID_LENGTH:
            raise errors.Error(
                errors.INVALID, f"malformed PID {text[:60]!r}…: longer than {MAX_PID_LENGTH} characters"
            )
        head, _, tail = text[1:-1].partition("|")
        # A legacy three-part form {host|x|uniq} keeps only the last part (a '|' of
        # a workflow ID is escaped, so a raw one can only be this).
        uniq = unescape_uniq(tail.rsplit("|", 1)[-1])
        node, at, host = head.partition("@")
        if not at:
            node, host = "", head
        if (not node or node == LOCAL_NODE) and "@" in host:
            raise errors.Error(errors.INVALID, f"malformed PID {text!r:.200}: a host cannot contain '@'")
        pid = cls(host, uniq, node)
        if cls is PID and len(text) <= _CACHED_LENGTH:
            if len(_parsed) >= _PARSED_LIMIT:
                _parsed.clear()
            _parsed[text] = pid
        return pid

    @classmethod
    def coerce(cls, value: PID | str) -> PID:
        """Return ``value`` as a PID, parsing strings."""
        if isinstance(value, PID):
            return value
        return cls.parse(value)

    @property
    def is_local(self) -> bool:
        """True when the PID belongs to the default (local) node."""
        return not self.node

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("PID is immutable")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"PID({self._text!r})"

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PID):
            return self._text == other._text
        return NotImplemented

    def _key(self) -> tuple[str, str, int, str]:
        return (self.node, self.host, len(self.uniq), self.uniq)

    def __lt__(self, other: PID) -> bool:
        if not isinstance(other, PID):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: PID) -> bool:
        if not isinstance(other, PID):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: PID) -> bool:
        if not isinstance(other, PID):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: PID) -> bool:
        if not isinstance(other, PID):
            return NotImplemented
        return self._key() >= other._key()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PID, (self.host, self.uniq, self.node))


def is_pid_text(text: str) -> bool:
    """True when ``text`` has PID syntax (as opposed to being a registered name)."""
    return len(text) >= 3 and text[0] == "{" and text[-1] == "}" and "|" in text
