"""Calling the Lua API from a real Lua process with hostile arguments (``tests/test_fuzz_lua_api.py``).

The app in ``tests/apps/lua_fuzz`` runs one process, ``app:fuzz``, that
lists every module; ``LuaApiFuzzer.run(calls)`` execs it once with a batch
of calls and returns what came back from each (see ``fuzz.lua``).  A call
names its target (a module function found by walking the module tables, or
a method of one of the objects ``fuzz.lua`` makes) and its arguments as
*recipes*: JSON-like lists that ``fuzz.lua`` turns into the Lua values
Python cannot pass (``nil`` in the middle of an argument list, NaN,
functions, channels, cyclic tables, tables with hostile metatables…).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from actorflow.app import App
from actors import errors

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "apps" / "lua_fuzz"
LUA = ROOT / "actors" / "lua"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# -- what may come back --------------------------------------------------------------------------

LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|\blupa\b|<python>|_LuaTable|LuaError|object at 0x|<built-in|<function |<class '"
    r"|\b(?:Type|Attribute|Key|Index|Value|Overflow|Recursion|Unicode\w*|Runtime|Assertion|Name|"
    r"ZeroDivision|Lookup|Memory|NotImplemented|OS|Struct|Encode|Decode)Error\b",
)
"""Text that means a Python exception or object leaked into what Lua sees."""

KINDS = errors.KINDS | {""}
"""The runtime's kinds, and "" (errors.new("text"): an error of no kind, which wrap and kind()
pass on)."""

LIB_CRASH = re.compile(r"attempt to (?:index|call|perform arithmetic on|compare|concatenate|get length of)")
"""A Lua runtime error inside a library function: an argument not checked, not a clear message."""

# -- targets -----------------------------------------------------------------------------------------

OBJECT_CLASSES: dict[str, tuple[str, str]] = {
    "channel": ("prelude.lua", "Channel"),
    "closed_channel": ("prelude.lua", "Channel"),
    "time": ("prelude.lua", "Time"),
    "duration": ("prelude.lua", "Duration"),
    "location": ("prelude.lua", "Location"),
    "timer": ("prelude.lua", "Timer"),
    "ticker": ("prelude.lua", "Timer"),
    "error": ("prelude.lua", "Error"),
    "spawner": ("prelude.lua", "Spawner"),
    "executor": ("prelude.lua", "Executor"),
    "future": ("prelude.lua", "Future"),
    "logger": ("prelude.lua", "Logger"),
    "message": ("prelude.lua", "Message"),
    "payload": ("prelude.lua", "Payload"),
    "regexp": ("lib/text.lua", "Regexp"),
    "differ": ("lib/text.lua", "Differ"),
    "splitter": ("lib/text.lua", "Splitter"),
    "db": ("wippy_compat/lua/sql.lua", "DB"),
    "tx": ("wippy_compat/lua/sql.lua", "Tx"),
    "statement": ("wippy_compat/lua/sql.lua", "Statement"),
    "group": ("cluster/lua/pg.lua", "Instance"),
    "pg_subscription": ("cluster/lua/pg.lua", "Subscription"),
    "events_subscription": ("wippy_compat/lua/events.lua", "Subscription"),
    "snapshot": ("wippy_compat/lua/registry.lua", "Snapshot"),
    "changes": ("wippy_compat/lua/registry.lua", "Changes"),
    "version": ("wippy_compat/lua/registry.lua", "Version"),
    "history": ("wippy_compat/lua/registry.lua", "History"),
    "actor": ("lib/security.lua", "ActorMethods"),
    "scope": ("lib/security.lua", "ScopeMethods"),
}
"""The objects ``fuzz.lua`` makes, with the Lua file and class whose methods they have."""

EXTRA_METHODS: dict[str, tuple[str, ...]] = {
    # methods defined other than as `function Class:name`
    "regexp": (
        "match_string", "find_string", "find_all_string", "find_string_submatch",
        "find_all_string_submatch", "find_string_index", "find_all_string_index",
        "replace_all_string", "split",
    ),
}  # fmt: skip


def _source(relative: str) -> str:
    for base in (LUA, LUA / "lib", ROOT):
        path = base / relative
        if path.is_file():
            return path.read_text()
    raise FileNotFoundError(relative)


def object_methods() -> list[tuple[str, str]]:
    """Every ``(object, method)`` pair, from the Lua sources (so a new method is fuzzed too)."""
    pairs = set()
    for name, (relative, cls) in OBJECT_CLASSES.items():
        source = _source(relative)
        for method in re.findall(rf"^\s*function {cls}[:.](\w+)|^{cls}\.(\w+)\s*=", source, re.MULTILINE):
            method = method[0] or method[1]
            if not method.startswith("__"):
                pairs.add((name, method))
        for method in EXTRA_METHODS.get(name, ()):
            pairs.add((name, method))
    return sorted(pairs)


UPGRADE = ["fn", "process", "upgrade"]

MAY_WAIT = {
    # Calls whose job is to wait (a sleep, a receive, a call to another process…): given
    # arguments that make sense, they are still waiting when the next call starts.
    ("fn", "time", "sleep"),
    ("fn", "channel", "select"),
    ("fn", "process", "exec"),
    ("fn", "funcs", "call"),
    ("method", "channel", "receive"),
    ("method", "channel", "send"),
    ("method", "executor", "call"),
    ("method", "spawner", "exec"),
    ("method", "timer", "channel"),
    ("method", "ticker", "channel"),
    ("fn", "system", "lock", "acquire"),
    ("fn", "system", "supervisor", "state"),
    ("fn", "system", "supervisor", "states"),
}

# -- values ------------------------------------------------------------------------------------------

ENTRY_IDS = ["app:echo", "app:idle", "app:double", "app:processes", "app:db", "app:groups", "app:jobs",
             "app:vars", "app:nope", "nope", ":", "app:", ":x"]  # fmt: skip
"""IDs a call may get: real ones (never ``app:fuzz``, which a registry change could delete)."""

ODD_STRINGS = [
    "", " ", "0", "-1", "1e309", "nan", "true", "null", "{", "[1,", '{"a":', "\x00", "\xff\xfe",
    "1s", "-1s", "0s", "1ns", "2562048h", "9223372036854775807ns", "1h2m3s", "100ms",
    "%s%d%n", "%", "(", "[", "a(", "*", "\\", "..", "../../etc/passwd", "/dev/zero", "~",
    "sha256", "sha512", "md5", "aes", "chacha20", "HS256", "RS256", "none", "v1", "v4", "v7",
    "standard", "urn", "simple", "LOCAL", "EVENTUAL", "RFC3339", "2006-01-02", "UTC", "Local",
    "Europe/Paris", "Nope/Nowhere", "SELECT 1", "SELECT ?", "DROP TABLE x", "up", "down",
    "fuzz", "fuzz.a", "*", "orders.*", "@t", "@pid.exit", "pid.exit", "a=b", "\u2603", "\U0001f600",
    "{local@node|app:processes|0x1}", "{app:processes|0x00001}",
]  # fmt: skip

_MARKER = re.compile(LEAKS.pattern + "|attempt to", re.IGNORECASE)


def _clean(text: str) -> bool:
    return _MARKER.search(text) is None


PLAIN = st.one_of(
    st.just(["nil"]),
    st.booleans().map(lambda b: ["bool", b]),
    st.one_of(
        st.integers(INT64_MIN, INT64_MAX),
        st.sampled_from([0, 1, -1, 2, 10, 255, 256, 65536, 2**31, 2**32, 2**53 + 1, INT64_MAX, INT64_MIN]),
    ).map(lambda i: ["int", i]),
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["nan", "inf", "-inf", "-0", 0.5, 1e-9, 1e300, -1e300, 2.0**63, 1e19]),
    ).map(lambda x: ["float", x]),
    st.sampled_from(ENTRY_IDS + ODD_STRINGS).map(lambda s: ["str", s]),
    st.text(max_size=24).filter(_clean).map(lambda s: ["str", s]),
    st.binary(max_size=16).filter(lambda b: _clean(b.decode("latin-1"))).map(lambda b: ["str", b]),
    st.tuples(st.sampled_from(["a", "\xff", "(", "%", "é"]), st.sampled_from([1000, 100_000, 1_000_000])).map(
        lambda p: ["rep", p[0], p[1]]
    ),
)
SHAPES = st.one_of(
    st.sampled_from([10, 250, 100_000]).map(lambda n: ["deep", n]),
    st.sampled_from([1000, 50_000]).map(lambda n: ["wide", n]),
    st.sampled_from([["cyclic"], ["fn"], ["raising_fn"], ["yielding_fn"], ["hostile_meta"]]),
    st.sampled_from([*sorted(OBJECT_CLASSES), "thread", "sibling"]).map(lambda name: ["obj", name]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4).map(lambda items: ["list", items]),
        st.lists(st.tuples(children, children), max_size=4).map(
            lambda pairs: ["map", [list(p) for p in pairs]]
        ),
    )


VALUES = st.recursive(st.one_of(PLAIN, SHAPES), _containers, max_leaves=8)
"""A recipe for any Lua value (see ``fuzz.lua``'s ``build``)."""

# -- running -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    call: dict[str, Any]
    status: str
    kind: str | None
    message: str

    def problem(self) -> str | None:
        """What is wrong with this outcome, or None when it is a call refusing bad input properly."""
        target = tuple(self.call["target"])
        if self.status == "waiting":
            return None if target in MAY_WAIT else "still running after the wait: it hangs or blocks"
        if LEAKS.search(self.message):
            return "a Python exception or object leaks into Lua"
        if self.kind is not None and self.kind not in KINDS:
            return f"an error of unknown kind {self.kind!r}"
        if self.status == "raised" and LIB_CRASH.search(self.message):
            return "a Lua runtime error inside the library: the argument is not checked"
        if not self.message.strip():
            return "an error without a message"
        return None

    def __str__(self) -> str:
        return f"{describe(self.call)} -> {self.status} {self.kind or ''}: {self.message[:300]!r}"


def describe(call: dict[str, Any]) -> str:
    """A call as Lua-ish text, for failure messages."""
    target = call["target"]
    name = ".".join(target[1:]) if target[0] == "fn" else f"<{target[1]}>:{target[2]}"
    args = ", ".join(_shown(recipe) for recipe in call["args"])
    self_text = f" self={_shown(call['self'])}" if "self" in call else ""
    return f"{name}({args}){self_text}"


def _shown(recipe: Any) -> str:
    tag = recipe[0]
    if tag in ("bool", "int", "float", "str"):
        return repr(recipe[1])[:60]
    if tag in ("list", "map"):
        return f"{tag}[{len(recipe[1])}]"
    return "<" + " ".join(str(part) for part in recipe) + ">"


class LuaApiFuzzer:
    """The running fuzz app: discovers the targets and runs batches of calls."""

    def __init__(self, wait: str = "150ms", patience: str = "10s") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="lua_fuzz_"))
        shutil.copytree(APP, self._dir / "app")
        self.app = App(self._dir / "app")
        self.wait = wait
        """How long a call that may wait (``MAY_WAIT``) runs before the next one starts."""
        self.patience = patience
        """How long any other call may take (a 50,000-key table to convert, on a loaded machine)."""
        self.app.start()
        self.functions: list[list[str]] = [
            ["fn", *path] for path in self.app.exec("app:fuzz", "discover", timeout=30)
        ]
        self.methods: list[list[str]] = [["method", obj, name] for obj, name in object_methods()]

    @property
    def targets(self) -> list[list[str]]:
        """Every function and method but ``process.upgrade`` (see :meth:`upgrade`)."""
        return [target for target in self.functions if target != UPGRADE] + self.methods

    def upgrade(self, args: list[Any]) -> tuple[Any, errors.Error | None]:
        """``process.upgrade(...)`` with ``args`` (recipes): it replaces or ends the program
        that calls it, so each gets a run of its own; the run's value or error."""
        try:
            return self.app.exec("app:fuzz", {"upgrade": args}, timeout=30), None
        except errors.Error as err:
            return None, err

    def run(self, calls: list[dict[str, Any]], timeout: float = 60.0) -> list[Outcome]:
        """Run ``calls`` in one Lua process; the outcome of each that raised, returned an error or waits."""
        timed = [
            call if tuple(call["target"]) in MAY_WAIT else {**call, "wait": self.patience} for call in calls
        ]
        result = self.app.exec("app:fuzz", {"calls": timed, "wait": self.wait}, timeout=timeout)
        assert result["calls"] == len(calls), result
        assert result["alive"] == "ok", result
        return [
            Outcome(calls[row["index"] - 1], row["status"], row.get("kind"), str(row.get("message", "")))
            for row in result["outcomes"]
        ]

    def close(self) -> None:
        try:
            self.app.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
