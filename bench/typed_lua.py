"""Typed-Lua erasure benchmark: what erasing annotations adds to loading a source.

The loader erases every Lua source before compiling it, so the peer is Lua
5.5's own compiler (``load`` through lupa) on the same file, in the same run:

* erase a 2,000-line typed file (records, generics, casts, methods);
* erase the same file once erased (plain Lua: the path every untyped source takes);
* compile the erased file with ``load``.

Prints a table with the ratio erase/compile (best of ``--repeat`` rounds);
``--write`` replaces the typed_lua section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lupa import lua55

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import run_line, table, write_section

from actors.lua.typed import erase_types

BLOCK = """\
do
type Item = {id: string, count: integer, tags: {string}?, meta: {[string]: any}}
type Result<T, E> = {ok: true, value: T} | {ok: false, error: E}
local Store = {}
Store.__index = Store

function Store.new<T>(limit: integer?): Store
    return setmetatable({items = {} :: {Item}, limit = limit or 100}, Store)
end

function Store:add(item: Item, ...: any): (boolean, string?)
    if #self.items >= self.limit then
        return false, "store is full: " .. tostring(self.limit) -- "limit": integer
    end
    self.items[#self.items + 1] = item
    return true, nil
end

local function total(items: {Item}, scale: number?): Result<number, string>
    local sum: number = 0
    for _, item in ipairs(items) do
        sum = sum + item.count * (scale or 1)
    end
    local label = ("total %d"):format(sum) :: string
    return {ok = true, value = sum, label = label as string}
end
end
"""


def _source(lines: int) -> str:
    return BLOCK * (lines // BLOCK.count("\n") + 1)


def _best(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    args = parser.parse_args()

    typed = _source(args.lines)
    plain = erase_types(typed, "bench.lua")
    lua = lua55.LuaRuntime()
    load = lua.eval("function(s) local f, e = load(s, '@bench.lua', 't') assert(f, e) return true end")
    load(plain)

    erase_typed = _best(args.repeat, lambda: erase_types(typed, "bench.lua"))
    erase_plain = _best(args.repeat, lambda: erase_types(plain, "bench.lua"))
    compile_lua = _best(args.repeat, lambda: load(plain))

    lines = typed.count("\n")
    size = len(typed.encode())
    rows = [
        [
            "erase a typed file",
            f"{erase_typed * 1000:.1f} ms",
            f"{compile_lua * 1000:.1f} ms",
            f"{erase_typed / compile_lua:.1f}×",
            "< 50 ms",
        ],
        [
            "erase a plain file (nothing to erase)",
            f"{erase_plain * 1000:.1f} ms",
            f"{compile_lua * 1000:.1f} ms",
            f"{erase_plain / compile_lua:.1f}×",
            "< 50 ms",
        ],
    ]
    header = ["measurement", "erase_types", "Lua 5.5 load", "ratio", "target"]
    how = f"`python bench/typed_lua.py` ({lines:,} lines, {size:,} bytes; best of {args.repeat})"
    out = [run_line(how), "", *table(header, rows)]
    print("\n".join(out))
    if args.write:
        write_section("typed_lua", "Typed Lua erasure", out)


if __name__ == "__main__":
    main()
