"""Every example of docs/lua-reference.md runs, and returns what the doc says it returns.

The doc marks each example with an HTML comment the reader does not see::

    <!-- example: json_roundtrip | runs: process workflow | modules: json -->
    ```lua
    local json = require("json")
    return json.decode(json.encode({1, 2}))
    ```
    → `[1, 2]`

The block is the body of an entry's ``main(...)``; the line after it states
the value ``main`` returns, as JSON.  ``runs`` says where the example runs:
``process`` (a ``process.lua`` on ``app:processes``), ``workflow`` (a
``workflow.lua`` on the Temporal dev server), ``http`` (the handler
of an ``http.endpoint`` that the test calls with ``request``; the arrow line
states the response's JSON body, and ``status N`` its status) or ``terminal``
(a ``process.lua`` on a ``terminal.host`` given ``stdin``; the arrow line states
the exit status and, after ``printing``, what it wrote to stdout).  Other keys:
``modules`` (else every module the place allows), ``args`` (JSON list of
arguments), ``imports`` (``alias=ns:name`` pairs), ``route`` (the endpoint's
path when it has ``{params}``).  YAML blocks marked ``<!-- example-app -->``
are definition files added to the app (``tests/apps/lua_reference``) as they
are.  The app runs once for the module; the workflows run concurrently, on the dev
server: under the time-skipping server, time skips whenever something waits for a
workflow's end and no task is running, so a workflow idle between two of an
example's calls (the counter between its updates, monitored by its spawner)
would reach its run timeout at once (docs/testing.md).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from actorflow.app import App
from actorflow.pytest_plugin import running_app, temporal_environment
from actors import errors

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "lua-reference.md"
BASE_APP = Path(__file__).parent / "apps" / "lua_reference"
WORKER = "app:worker"
TERMINAL = "app:terminal"
GATEWAY = "app:gateway"

PROCESS_MODULES = [
    "funcs", "time", "ctx", "logger", "workflow", "json", "yaml", "base64", "uuid", "crypto", "hash",
    "text", "security", "os", "temporal", "env", "events", "registry", "sql", "queue", "metrics",
    "system", "io",
]  # fmt: skip
WORKFLOW_MODULES = [
    "funcs", "time", "ctx", "logger", "workflow", "json", "yaml", "base64", "uuid", "crypto", "hash",
    "text", "os",
]  # fmt: skip
RUNS = frozenset({"process", "workflow", "http", "terminal"})

_MARKER = re.compile(r"^<!-- example: (?P<spec>.*) -->$")
_APP_MARKER = "<!-- example-app -->"
_ARROW = re.compile(r"^→ (?:status (?P<status>\d+), )?`(?P<value>.*?)`(?:, printing `(?P<printed>.*)`)?\s*$")

pytestmark = pytest.mark.temporal("dev")


@dataclass
class Example:
    name: str
    line: int
    runs: list[str]
    body: str
    expected: Any
    modules: list[str] | None = None
    args: list[Any] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)
    request: str | None = None
    route: str | None = None
    stdin: str = ""
    status: int | None = None
    printed: str | None = None


class DocError(Exception):
    """The doc's markup is wrong: the test says where."""


def _fence(lines: list[str], start: int, language: str) -> tuple[str, int]:
    """The text of the fenced block opening at ``lines[start]`` and the index after it."""
    if lines[start].strip() != f"```{language}":
        raise DocError(f"line {start + 1}: expected a ```{language} block after the marker")
    end = start + 1
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    if end == len(lines):
        raise DocError(f"line {start + 1}: the block is not closed")
    return "\n".join(lines[start + 1 : end]) + "\n", end + 1


def _next_text(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def parse_doc(text: str) -> tuple[list[Example], list[str]]:
    """The doc's examples and its app YAML blocks."""
    lines = text.splitlines()
    examples: list[Example] = []
    app_files: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line == _APP_MARKER:
            block, index = _fence(lines, _next_text(lines, index + 1), "yaml")
            app_files.append(block)
            continue
        marker = _MARKER.match(line)
        if marker is None:
            index += 1
            continue
        where = index + 1
        name, *options = (part.strip() for part in marker.group("spec").split("|"))
        settings: dict[str, str] = {}
        for option in options:
            key, _, value = option.partition(":")
            settings[key.strip()] = value.strip()
        body, index = _fence(lines, _next_text(lines, index + 1), "lua")
        index = _next_text(lines, index)
        arrow = _ARROW.match(lines[index].strip()) if index < len(lines) else None
        if arrow is None:
            raise DocError(f"line {index + 1}: example {name} needs a '→ `value`' line after its block")
        runs = settings.get("runs", "process").split()
        unknown = set(runs) - RUNS
        if unknown or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise DocError(f"line {where}: example {name!r}: bad name or runs {sorted(unknown)}")
        imports = dict(pair.split("=", 1) for pair in settings.get("imports", "").split())
        examples.append(
            Example(
                name=name,
                line=where,
                runs=runs,
                body=body,
                expected=json.loads(arrow.group("value")),
                modules=settings["modules"].split() if "modules" in settings else None,
                args=json.loads(settings.get("args", "[]")),
                imports=imports,
                request=settings.get("request"),
                route=settings.get("route"),
                stdin=json.loads(settings.get("stdin", '""')),
                status=int(arrow.group("status")) if arrow.group("status") else None,
                printed=json.loads(arrow.group("printed")) if arrow.group("printed") is not None else None,
            )
        )
        index += 1
    names = [example.name for example in examples]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DocError(f"example names used twice: {duplicates}")
    return examples, app_files


EXAMPLES, APP_FILES = parse_doc(DOC.read_text(encoding="utf-8"))


def _entries(example: Example) -> list[dict[str, Any]]:
    """The entries (namespace ``ref``) that run ``example``."""
    source = f"file://{example.name}.lua"
    entries: list[dict[str, Any]] = []
    for run in example.runs:
        modules = example.modules
        if modules is None:
            modules = WORKFLOW_MODULES if run == "workflow" else [*PROCESS_MODULES, "http"]
        entry: dict[str, Any] = {"source": source, "modules": list(modules)}
        if example.imports:
            entry["imports"] = dict(example.imports)
        if run == "workflow":
            entry.update(name=f"{example.name}_workflow", kind="workflow.lua")
            entry["meta"] = {"temporal": {"workflow": {"worker": WORKER}}}
        elif run == "http":
            entry.update(name=f"{example.name}_handler", kind="function.lua")
            method, target = (example.request or "GET /").split(" ", 1)
            path = example.route or target.split("?", 1)[0].removeprefix("/ref")
            entries.append(
                {
                    "name": f"{example.name}_endpoint",
                    "kind": "http.endpoint",
                    "meta": {"router": "app:ref_router"},
                    "method": method,
                    "path": path,
                    "func": f"ref:{example.name}_handler",
                }
            )
        else:
            entry.update(name=example.name, kind="process.lua")
        entries.append(entry)
    return entries


INVENTORY = "inventory"
"""The entry that lists every key of every module (not an example: the doc's names are checked)."""

INVENTORY_SOURCE = """
-- {module = {key, ...}, ["module.key"] = {inner key, ...}} for every module named.
return function(names)
  local found = {}
  for _, name in ipairs(names) do
    local keys = {}
    for key, value in pairs(require(name)) do
      keys[#keys + 1] = key
      local meta = getmetatable(value)
      if type(value) == "table" and (meta == nil or meta == false) then  -- a plain table (a view)
        local inner = {}
        for k in pairs(value) do inner[#inner + 1] = k end
        found[name .. "." .. key] = inner
      end
    end
    found[name] = keys
  end
  return found
end
"""


def module_list() -> list[str]:
    """Every module an entry may list (the prelude's and every registered one), as the app knows them."""
    from actorflow.app import default_extensions
    from actors.lua.modules import module_names

    default_extensions()  # importing the packages registers their modules
    return sorted(name for name in module_names() if not name.startswith("__"))


def build_app(root: Path) -> Path:
    """The reference app with the doc's YAML blocks and one entry per example."""
    shutil.copytree(BASE_APP, root)
    for number, block in enumerate(APP_FILES, 1):
        (root / f"doc_{number}.yaml").write_text(block)
    (root / f"{INVENTORY}.lua").write_text(INVENTORY_SOURCE)
    entries: list[dict[str, Any]] = [
        {
            "name": INVENTORY,
            "kind": "process.lua",
            "source": f"file://{INVENTORY}.lua",
            "modules": module_list(),
        }
    ]
    for example in EXAMPLES:
        if example.name == INVENTORY:
            raise DocError(f"line {example.line}: the example name {INVENTORY} is the test's own")
        # One line: the file's lines are the block's, as the doc numbers them.
        (root / f"{example.name}.lua").write_text(f"return function(...) {example.body}end\n")
        entries.extend(_entries(example))
    (root / "examples.yaml").write_text(yaml.safe_dump({"namespace": "ref", "entries": entries}))
    return root


# -- running every example once -----------------------------------------------------------------


@dataclass
class Outcome:
    value: Any = None
    error: errors.Error | None = None
    status: int | None = None
    printed: str | None = None


def _describe(error: errors.Error) -> str:
    return f"{error.kind()}: {error.message()}"


def _run_terminal(app: App, example: Example) -> Outcome:
    from wippy_compat.terminal import Terminal, run_on_terminal

    stdout = io.BytesIO()
    terminal = Terminal(stdin=io.BytesIO(example.stdin.encode()), stdout=stdout, stderr=io.BytesIO())
    try:
        status = run_on_terminal(
            app,
            f"ref:{example.name}",
            TERMINAL,
            [str(arg) for arg in example.args],
            timeout=30,
            terminal=terminal,
        )
    except errors.Error as error:
        return Outcome(error=error)
    return Outcome(value=status, printed=stdout.getvalue().decode())


def _run_http(client: httpx.Client, example: Example) -> Outcome:
    method, target = (example.request or "GET /").split(" ", 1)
    response = client.request(method, target)
    try:
        value = response.json()
    except ValueError:
        value = response.text
    return Outcome(value=value, status=response.status_code)


def run_examples(app: App) -> dict[tuple[str, str], Outcome]:
    outcomes: dict[tuple[str, str], Outcome] = {}
    lock = threading.Condition()
    pending = set()

    def ended(key: tuple[str, str]) -> Any:
        def on_exit(value: Any, error: Any) -> None:
            with lock:
                outcomes[key] = Outcome(value=value, error=error)
                pending.discard(key)
                lock.notify_all()

        return on_exit

    for example in EXAMPLES:  # the workflows first: they run while the processes do
        if "workflow" in example.runs:
            key = (example.name, "workflow")
            pending.add(key)
            app.start_entry(f"ref:{example.name}_workflow", tuple(example.args), WORKER, ended(key))
    outcomes[(INVENTORY, "process")] = Outcome(value=app.exec(f"ref:{INVENTORY}", module_list(), timeout=30))
    with httpx.Client(base_url=app.http[GATEWAY].address, timeout=30) as client:
        for example in EXAMPLES:
            for run in example.runs:
                if run == "process":
                    try:
                        value = app.exec(f"ref:{example.name}", *example.args, timeout=30)
                        outcomes[(example.name, run)] = Outcome(value=value)
                    except errors.Error as error:
                        outcomes[(example.name, run)] = Outcome(error=error)
                elif run == "terminal":
                    outcomes[(example.name, run)] = _run_terminal(app, example)
                elif run == "http":
                    outcomes[(example.name, run)] = _run_http(client, example)
    with lock:
        lock.wait_for(lambda: not pending, timeout=120)
        for key in pending:
            outcomes[key] = Outcome(error=errors.Error(errors.TIMEOUT, "the workflow did not end in 120 s"))
    return outcomes


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], Outcome]]:
    root = build_app(tmp_path_factory.mktemp("lua-reference") / "app")
    state = tmp_path_factory.mktemp("lua-reference-state")
    with running_app(root, state_dir=state, temporal=temporal_environment(request)) as app:
        yield run_examples(app)


CASES = [
    pytest.param(example, run, id=f"{example.name}-{run}") for example in EXAMPLES for run in example.runs
]


@pytest.mark.parametrize(("example", "run"), CASES)
def test_the_example_returns_what_the_doc_says(
    outcomes: dict[tuple[str, str], Outcome], example: Example, run: str
) -> None:
    outcome = outcomes[(example.name, run)]
    where = f"docs/lua-reference.md line {example.line}, example {example.name} as a {run}"
    assert outcome.error is None, f"{where} failed: {_describe(outcome.error)}"
    assert outcome.value == example.expected, f"{where} returned {outcome.value!r}"
    if example.status is not None:
        assert outcome.status == example.status, f"{where}: status {outcome.status}"
    if example.printed is not None:
        assert outcome.printed == example.printed, f"{where} printed {outcome.printed!r}"


# -- the doc itself ------------------------------------------------------------------------------

SECTIONS = {
    "errors": "Errors",
    "channel": "channel and coroutines",
    "coroutine": "channel and coroutines",
    "logger": "logger and print",
    "events": "events (the bus)",
}
"""Modules whose section heading is not their name."""


def section(module: str) -> str:
    """The text of the doc's section (``## …``) about ``module``."""
    text = DOC.read_text(encoding="utf-8")
    heading = f"\n## {SECTIONS.get(module, module)}\n"
    assert heading in text, f"docs/lua-reference.md has no section '## {SECTIONS.get(module, module)}'"
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def test_every_module_and_every_key_of_it_is_in_the_doc(outcomes: dict[tuple[str, str], Outcome]) -> None:
    """Each module an entry may list has a section naming each of its functions and constants
    (``module.key`` for the module's own, the key for those of its tables)."""
    inventory = outcomes[(INVENTORY, "process")].value
    assert set(module_list()) <= set(inventory), "the inventory missed a module"
    missing = []
    for qualified, keys in sorted(inventory.items()):
        module = qualified.split(".", 1)[0]
        text = section(module)
        for key in keys:
            if not isinstance(key, str) or key.startswith("_"):
                continue  # an object's own fields (the logger's), not API
            wanted = f"{qualified}.{key}" if qualified == module else key
            if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(wanted)}(?![A-Za-z0-9_])", text):
                missing.append(f"{qualified}.{key}")
    assert not missing, f"docs/lua-reference.md does not name: {', '.join(missing)}"


def test_the_doc_has_examples_and_readme_links_it() -> None:
    assert len(EXAMPLES) >= 50
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    more = readme[readme.index("\nMore:") :].split("\n\n", 1)[0]  # the "More:" paragraph
    assert "(docs/lua-reference.md)" in more


def test_the_parser_rejects_an_example_without_its_result() -> None:
    text = "<!-- example: lonely -->\n```lua\nreturn 1\n```\n\nno arrow here\n"
    with pytest.raises(DocError, match="needs a '→ `value`' line"):
        parse_doc(text)
    examples, _ = parse_doc(text.replace("no arrow here", "→ `1`"))
    assert [(e.name, e.body, e.expected) for e in examples] == [("lonely", "return 1\n", 1)]
