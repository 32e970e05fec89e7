"""Typed Lua: Wippy's annotations erased, the code run by Lua 5.5, lines and columns kept.

Every construct of Wippy's types page (``en/lua/types.md``) is erased and the
result compiled and run; untyped sources must come back byte for byte.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa import lua55

from actors import errors
from actors.lua.typed import erase_types

ROOT = Path(__file__).resolve().parent.parent


def _lua() -> Any:
    return lua55.LuaRuntime(unpack_returned_tuples=True)


def _load(source: str, chunkname: str, lua: Any = None) -> tuple[Any, Any]:
    """Lua's ``load(source, "@" .. chunkname)``: the chunk, or ``None`` and the compiler's message."""
    lua = lua or _lua()
    loader = lua.eval("function(s, n) local f, e = load(s, n, 't') return f or false, e end")
    chunk, message = loader(source, "@" + chunkname)
    return chunk or None, message


def _same_layout(original: str, erased: str) -> None:
    """Only annotation characters changed, each into a space; newlines all kept."""
    assert len(erased) == len(original)
    for index, (before, after) in enumerate(zip(original, erased, strict=True)):
        if before != after:
            assert after == " " and before not in "\r\n", (index, before, after)


def run(source: str, *args: Any) -> Any:
    """Erase ``source``, check the layout, run it as a chunk and return its results."""
    source = textwrap.dedent(source)
    erased = erase_types(source, "typed.lua")
    _same_layout(source, erased)
    chunk, message = _load(erased, "typed.lua")
    assert chunk is not None, message
    return chunk(*args)


def erased(source: str) -> str:
    source = textwrap.dedent(source)
    out = erase_types(source, "typed.lua")
    _same_layout(source, out)
    return out


def invalid(source: str) -> str:
    """The ``INVALID`` message erasing ``source`` gives."""
    with pytest.raises(errors.Error) as caught:
        erase_types(textwrap.dedent(source), "app/typed.lua")
    assert caught.value.kind() == errors.INVALID
    return caught.value.message()


# -- the types page, section by section ------------------------------------------------------


def test_primitives_and_any_unknown() -> None:
    assert run(
        """
        local something = {foo = 1}
        local n: number = 3.14
        local i: integer = 42         -- integer is subtype of number
        local s: string = "hello"
        local b: boolean = true
        local a: any = "anything"     -- explicit dynamic (opt-out of checking)
        local u: unknown = something  -- must narrow before use
        local kind = "other"
        if type(u) == "table" then
            kind = "table"
        end
        return n, i, s, b, a, u.foo, kind
        """
    ) == (3.14, 42, "hello", True, "anything", 1, "table")


def test_nil_safety_and_narrowing() -> None:
    assert run(
        """
        local y: number? = nil        -- OK: number? means "number or nil"
        local z: number? = 42         -- OK
        local function process(x: number?): number
            if x ~= nil then
                return x              -- x is number here
            end
            return 0
        end
        local function get_value(): number? return nil end
        local val = get_value() or 0  -- val: number
        return y, z, process(5), process(nil), val
        """
    ) == (None, 42, 5, 0, 0)


def test_union_and_literal_types() -> None:
    assert run(
        """
        type Status = "pending" | "active" | "done"
        local function get_value(flag: boolean): number | string
            if flag then return 41 end
            return "text"
        end
        local out = {}
        for _, flag in ipairs({true, false}) do
            local val: number | string = get_value(flag)
            if type(val) == "number" then
                out[#out + 1] = val + 1      -- val: number
            else
                out[#out + 1] = val:upper()  -- val: string
            end
        end
        local s: Status = "pending"
        return out[1], out[2], s
        """
    ) == (42, "TEXT", "pending")


def test_function_types_multiple_and_error_returns_first_class() -> None:
    assert run(
        """
        local function add(a: number, b: number): number
            return a + b
        end

        -- Multiple returns
        local function div_mod(a: number, b: number): (number, number)
            return math.floor(a / b), a % b
        end

        -- Error returns (Lua idiom)
        local function fetch(url: string): (string?, error?)
            if url == "" then return nil, "empty url" end
            return "data:" .. url, nil
        end

        -- First-class function types
        local double: (number) -> number = function(x: number): number
            return x * 2
        end
        local q, r = div_mod(17, 5)
        local data, err = fetch("")
        return add(1, 2), q, r, data, err, fetch("x"), double(21)
        """
    ) == (3, 3, 2, None, "empty url", "data:x", 42)


def test_variadic_functions() -> None:
    assert run(
        """
        local function sum(...: number): number
            local total: number = 0
            for _, v in ipairs({...}) do
                total = total + v
            end
            return total
        end
        local function tagged(tag: string, ...: any): string
            return tag .. select("#", ...)
        end
        return sum(1, 2, 3, 4), tagged("n=", 1, nil, 3)
        """
    ) == (10, "n=3")


def test_record_types_and_optional_fields() -> None:
    assert run(
        """
        type User = {name: string, age: number}

        local u: User = {name = "alice", age = 25}

        type Config = {
            host: string,
            port: number,
            timeout?: number,
            debug?: boolean
        }

        local cfg: Config = {host = "localhost", port = 8080}  -- OK
        return u.name, u.age, cfg.host, cfg.port, cfg.timeout
        """
    ) == ("alice", 25, "localhost", 8080, None)


def test_generics_and_constrained_generics() -> None:
    assert run(
        """
        local function identity<T>(x: T): T
            return x
        end

        local n: number = identity(42)
        local s: string = identity("hello")

        type HasName = {name: string}

        local function greet<T: HasName>(obj: T): string
            return "Hello, " .. obj.name
        end

        return n, s, greet({name = "Alice"})
        """
    ) == (42, "hello", "Hello, Alice")


def test_intersection_types() -> None:
    assert run(
        """
        type Named = {name: string}
        type Aged = {age: number}
        type Person = Named & Aged

        local p: Person = {name = "Alice", age = 30}
        return p.name, p.age
        """
    ) == ("Alice", 30)


def test_tagged_unions() -> None:
    assert run(
        """
        type User = {name: string}
        type Result<T, E> =
            {ok: true, value: T}
            | {ok: false, error: E}

        type LoadState =
            {status: "loading"}
            | {status: "loaded", data: User}
            | {status: "error", message: string}

        local function render(state: LoadState): string
            if state.status == "loading" then
                return "Loading..."
            elseif state.status == "loaded" then
                return "Hello, " .. state.data.name
            elseif state.status == "error" then
                return "Error: " .. state.message
            end
        end
        local ok: Result<number, string> = {ok = true, value = 1}
        return render({status = "loading"}), render({status = "loaded", data = {name = "Ann"}}),
            render({status = "error", message = "boom"}), ok.value
        """
    ) == ("Loading...", "Hello, Ann", "Error: boom", 1)


def test_never_type() -> None:
    ok, message = run(
        """
        function fail(msg: string): never
            error(msg)
        end
        return pcall(fail, "stop")
        """
    )
    assert ok is False
    assert message == "typed.lua:3: stop"


def test_error_handling_pattern_with_annotations() -> None:
    assert run(
        """
        local function call(): (string?, string?)
            return nil, "nope"
        end
        local function outer(): (string?, string?)
            local value, err = call()
            if err then
                -- value is nil here
                return nil, err
            end
            return value, nil
        end
        return outer()
        """
    ) == (None, "nope")


def test_non_nil_assertion() -> None:
    assert run(
        """
        type User = {name: string}
        local function get_user(): User? return {name = "ada", tags = {"x"}} end
        local user: User? = get_user()
        local name = (user!).name            -- assert user is non-nil
        local tag = user!.tags[1]!
        return name, tag, #get_user()!.name
        """
    ) == ("ada", "x", 3)


def test_unsafe_casts_double_colon_and_as() -> None:
    assert run(
        """
        type User = {name: string}
        local function get_data(): any return {name = "grace"} end
        local data: any = get_data()
        local user = data :: User            -- no runtime check
        local user2 = data as User           -- same as ::
        local n = (data :: User).name .. "/" .. (data as {name: string}).name
        local list = {data :: User, data as User?, 7 :: integer}
        return user.name, user2.name, n, #list
        """
    ) == ("grace", "grace", "grace/grace", 3)


def test_collection_optional_and_function_type_locals() -> None:
    assert run(
        """
        local arr: {number} = {1, 2, 3}
        local map: {[string]: number} = {}
        map.a = 1
        local opt: number? = nil
        local fn: (number, string) -> boolean
        fn = function(a: number, b: string): boolean return tostring(a) == b end
        return #arr, map.a, opt, fn(1, "1")
        """
    ) == (3, 1, None, True)


def test_type_annotations_section() -> None:
    assert run(
        """
        -- Parameter and return types
        local function process(input: string): number
            return #input
        end

        -- Local variable types
        local count: number = 0

        -- Type aliases
        type StringArray = {string}
        type StringMap = {[string]: number}
        local words: StringArray = {"a", "b"}
        local seen: StringMap = {a = 1}
        return process("four"), count, #words, seen.a
        """
    ) == (4, 0, 2, 1)


def test_type_validators() -> None:
    assert run(
        """
        -- Single validator
        local x: number @min(0) = 1

        -- Multiple validators
        local y: number @min(0) @max(100) = 50

        -- String pattern
        local email: string @pattern("^.+@.+$") = "test@example.com"

        type User = {
            age: number @min(0) @max(150),
            name: string @min_len(1) @max_len(100)
        }

        local scores: {number @min(0) @max(100)} = {85, 90}
        local id: number @min(1) | string @min_len(1) = 1
        local u: User = {age = 3, name = "n"}
        return x, y, email, scores[2], id, u.age
        """
    ) == (1, 50, "test@example.com", 90, 1, 3)


def test_gradual_adoption() -> None:
    assert run(
        """
        -- Existing code works unchanged
        function old_function(x)
            return x + 1
        end

        -- New code gets types
        function new_function(x: number): number
            return x + 1
        end
        return old_function(1), new_function(2)
        """
    ) == (2, 3)


# -- more of Wippy's grammar (wippyai/go-lua parser.go.y) -------------------------------------


def test_methods_generic_types_and_anonymous_function_returns() -> None:
    assert run(
        """
        type Stack<T> = {items: {T}, size: integer}
        local Stack = {}
        Stack.__index = Stack

        function Stack.new<T>(): Stack<T>
            return setmetatable({items = {}, size = 0}, Stack)
        end

        function Stack:push<T>(value: T): integer
            self.size = self.size + 1
            self.items[self.size] = value
            return self.size
        end

        function Stack:pop(): any?
            local value = self.items[self.size]
            self.items[self.size] = nil
            self.size = self.size - 1
            return value
        end

        local s = Stack.new()
        s:push("a"); s:push("b")
        local mapper = function<T, U>(list: {T}, f: (T) -> U): {U}
            local out: {U} = {}
            for i, v in ipairs(list) do out[i] = f(v) end
            return out
        end
        local upper = mapper({"x", "y"}, function(v: string): string return v:upper() end)
        return s:pop(), s.size, table.concat(upper, ",")
        """
    ) == ("b", 1, "X,Y")


def test_main_returning_integer_and_entry_table() -> None:
    module = run(
        """
        local function main(): integer
            return 0
        end
        return { main = main }
        """
    )
    assert module["main"]() == 0


def test_interface_fun_readonly_keyof_and_exported_types() -> None:
    assert run(
        """
        interface Shape
            function area(self): number
            function scale(self, by: number): Shape
        end
        interface Square: Shape, Named
            function side(self): number
        end
        export type Point = {x: number, y: number}
        export type Handler<T> = fun(value: T, meta: {[string]: any}?): (boolean, string?)
        type Frozen = readonly {number}
        type FrozenMap = readonly {[string]: Point}
        type Keys = keyof(Point)
        type Names = string[]
        type Field = Point["x"]
        type Pick<T> = T extends string ? "s" : "other"
        local pts: readonly {Point} = {{x = 1, y = 2}}
        local h: Handler<number> = function(v: number, meta: {[string]: any}?): (boolean, string?)
            return v > 0, nil
        end
        return pts[1].y, h(3)
        """
    ) == (2, True, None)


def test_attributes_stay_and_types_go() -> None:
    assert run(
        """
        local limit: integer <const> = 10
        local <const> a, b = 1, 2
        do
            local closed = false
            local guard: any <close> = setmetatable({}, {__close = function() closed = true end})
        end
        local total: number, label: string = limit + a + b, "sum"
        return total, label
        """
    ) == (13, "sum")


def test_typed_loop_variables_and_multiline_signatures() -> None:
    assert run(
        """
        local function combine(
            left: {[string]: number},
            right: {[string]: number},
            pick: (number, number) -> number
        ): {[string]: number}
            local out: {[string]: number} = {}
            for k: string, v: number in pairs(left) do
                out[k] = pick(v, right[k] or 0)
            end
            return out
        end
        local r = combine({a = 1, b = 5}, {a = 3}, math.max)
        local total = 0
        for i: integer = 1, 3 do total = total + i end
        return r.a, r.b, total
        """
    ) == (3, 5, 6)


def test_casts_in_returns_and_table_fields_as_real_apps_write_them() -> None:
    assert run(
        """
        type Binding = {kind: string, phases: {string}}
        local function phases_of(raw: any): {string}
            local phases: {string} = {}
            if type(raw) == "string" then
                phases[#phases + 1] = raw
                return phases :: {string}
            end
            return phases :: {string}
        end
        local function normalize(kind: any, raw: any): Binding?
            return {
                kind = kind :: string,
                phases = phases_of(raw),
            }
        end
        local b = normalize("memory", "activate")!
        return b.kind, b.phases[1]
        """
    ) == ("memory", "activate")


def test_nested_generics_close_with_shift_and_ge_tokens() -> None:
    source = """
    type Tree<T> = {value: T, children: {Tree<T>}}
    local cache: Map<string, List<number>> = {}
    local deep: A<B<C<number>>>= {}
    local function wrap<T: Box<List<T>>>(x: T): Box<Box<T>> return {x} end
    return #wrap(cache), deep ~= nil
    """
    assert run(source) == (1, True)
    assert "Map" not in erased(source) and ">" not in erased(source)


def test_forms_from_wippys_parser_tests() -> None:
    """Turbofish type arguments, chained casts, asserts, annotations without arguments, …"""
    assert run(
        """
        local function pair<T, U>(a: T, b: U): (T, U) return a, b end
        local obj = {tag = "o"}
        function obj:wrap<T>(value: T): {T} return {value, self.tag} end
        local config = {port = 1}
        local p1, p2 = pair::<number, string>(1, "x")
        local w = obj:wrap::<Box<Result<number>>>(5)
        local fn = obj.wrap::<string>
        local a = 7
        local x = a as number as integer
        local y = a!!!
        local z: () -> () -> () -> number = nil
        local v: A<B<C> > = nil
        local n: number?? = nil
        local items: {Item?} = {}
        local t: typeof(config) = config
        local s: 42 = 42
        local r: number @integer = 42
        type Subject = number @element[] @array
        type Callable = (named: number, string, ... boolean) -> number
        type Guard = asserts candidate is pkg.deep.Value
        function assert_ok(value: any?): asserts value
            assert(value)
        end
        function assert_num(value: any): asserts value is number
            assert(type(value) == "number")
        end
        assert_ok(1); assert_num(2)
        local i = 0
        ::   again   ::
        i = i + 1
        local last = i :: integer
        ::done::
        if last < 2 then goto again end
        return p1, p2, w[1], w[2], fn == obj.wrap, x, y, t.port, s, r, last
        """
    ) == (1, "x", 5, "o", True, 7, 7, 1, 42, 42, 2)


def test_a_cast_at_the_end_of_a_line_then_a_label_is_a_cast_then_a_label() -> None:
    source = "local y = 1\nlocal x = y :: number\n::label::\nreturn x"
    assert erase_types(source, "l.lua") == "local y = 1\nlocal x = y          \n::label::\nreturn x"


def test_a_cast_before_a_comparison_is_not_read_as_generic_arguments() -> None:
    assert run(
        """
        local x: any = 3
        return x :: number < 5, (x as number) > 2
        """
    ) == (True, True)


# -- line numbers ---------------------------------------------------------------------------


def test_runtime_error_reports_the_original_line() -> None:
    source = textwrap.dedent(
        """\
        type Order = {
            id: string,
            total: number,
        }

        local function check(order: Order): (boolean, string?)
            if order.total < 0 then
                error("negative total in " .. order.id)
            end
            return true, nil
        end

        return check({id = "o-1", total = -1} :: Order)
        """
    )
    assert source.splitlines()[7].strip().startswith('error("negative total')
    chunk, message = _load(erase_types(source, "orders.lua"), "orders.lua")
    assert chunk is not None, message
    with pytest.raises(lua55.LuaError, match=r"^orders\.lua:8: negative total in o-1"):
        chunk()


def test_syntax_error_after_erasure_points_at_the_original_line() -> None:
    source = "local a: number = 1\ntype T = {x: number}\nlocal b: string = )\n"
    chunk, message = _load(erase_types(source, "broken.lua"), "broken.lua")
    assert chunk is None
    assert message.startswith("broken.lua:3:")


def test_columns_are_kept() -> None:
    source = "local value: {[string]: number} = {}; local n: integer = #value :: integer; return n"
    out = erase_types(source, "c.lua")
    assert out == "local value                     = {}; local n          = #value           ; return n"
    for word in ("= {}", "local n", "= #value", "; return n"):
        assert out.index(word) == source.index(word)


# -- untyped Lua is untouched ----------------------------------------------------------------


def _repo_lua_files() -> list[Path]:
    files = [
        path
        for folder in ("examples", "tests/apps", "bench/apps", "actors", "supervision", "temporal_bridge")
        for path in sorted((ROOT / folder).rglob("*.lua"))
        if not path.relative_to(ROOT)
        .as_posix()
        .startswith("examples/wippy_")  # typed on purpose (Wippy-style)
    ]
    assert len(files) >= 40
    return files


@pytest.mark.parametrize("path", _repo_lua_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lua_file_of_the_repo_is_unchanged(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert erase_types(source, str(path)) == source


PLAIN_HOSTILE = r"""#!/usr/bin/env lua
local s1 = "local x: number = 1"
local s2 = 'function f(a: string): (boolean, string?) end'
local s3 = "type User = {name: string} -- not a comment"
local s4 = "esc \" :: T \\" .. 'it\'s as T' .. "\65\x41\u{48}\z
            : continued"
local s5 = [[
  local y: {string: number} = {}
]]
local s6 = [==[ x :: T ]] still :: inside ]=] ]==]
--[[ local z: number = 1
     function g(a: T): R end ]]
--[==[ ]] type X = number ]==]
-- local w: number = 2  and  x :: T  and  a as B
local obj = {type = "t", as = 1, interface = 2, export = 3}
function obj:m(a, b) return a end
function obj.n(...) return select("#", ...) end
local r = obj:m(1) + obj:m"str" + (obj:m{1, 2}) + obj.n(1, 2)
local t = {a = 1, ["b"] = 2, [3] = 3; c = {d = {}}}
local kind = type(t) == "table" and obj.type
local as = obj.as
local type = type
local f = type
x = obj.as as = nil
local interface = obj.interface
local export = interface
export = as
for i = 1, 3 do
  if i == 2 then goto continue end
  ::continue::
end
do goto done end
::done:: ::another::
local after = 1 ::
  split_label
::
local n = 0x1p4 + 0xA.8p0 + 1e-2 + .5 + 3 // 2 + 7 % 3 + 2 ^ 2 + (1 << 3) + (16 >> 1) + (5 & 3) + (5 | 3) + (5 ~ 3) + ~0
local ok = n ~= 1 and n >= 1 and n <= 1e9 and #s1 > 0 and not false
local u <const> = 1
local c <close> = nil
local tail = function(a, b) return a .. b end
local v = f
(tail)("x", "y")
return tail, r, kind, u
"""


def test_hostile_plain_lua_is_unchanged_and_still_compiles() -> None:
    assert erase_types(PLAIN_HOSTILE, "hostile.lua") == PLAIN_HOSTILE
    chunk, message = _load(PLAIN_HOSTILE.split("\n", 1)[1], "hostile.lua")
    assert chunk is not None, message


@pytest.mark.parametrize(
    "source",
    [
        "",
        "   \n\t\n",
        "-- local x: number = 1",
        "return 1\n-- local x: number = 1\n--[[ type T = {a: b} ]]\n   -- f(a: T): R",
        "return 1 --[==[ x :: T ]==] -- y as T",
    ],
)
def test_trailing_comments_and_empty_sources_are_unchanged(source: str) -> None:
    assert erase_types(source, "tail.lua") == source


def test_as_on_a_new_line_is_a_call_of_a_global_named_as() -> None:
    source = "local x = f()\nas {1}\nas (2)\nas 'three'\n"
    assert erase_types(source, "as.lua") == source


def test_annotation_lookalikes_in_typed_code_are_not_touched() -> None:
    source = """
    type Pair = {first: string, second: number}
    local p: Pair = {first = "a:b() ::l:: {string: number}", second = 2}
    local obj = {}
    function obj:describe(sep: string): string
        return p.first .. sep .. tostring(p.second) -- (a: number) -> string
    end
    local s = [==[ local x: {string: number} = (a: number) -> string ]==]
    local i = 0
    ::again::
    i = i + 1
    if i < 3 then goto again end
    local m: {string: number} = {string = 1}
    local fn: (a: number) -> string = function(a: number): string return tostring(a) end
    return obj:describe("|"), s, i, m.string, fn(5), #obj:describe":"
    """
    out = erased(source)
    assert "a:b() ::l:: {string: number}" in out
    assert "[==[ local x: {string: number} = (a: number) -> string ]==]" in out
    assert "-- (a: number) -> string" in out
    assert "function obj:describe(sep        )" in out
    assert run(source) == (
        "a:b() ::l:: {string: number}|2",
        " local x: {string: number} = (a: number) -> string ",
        3,
        1,
        "5",
        len("a:b() ::l:: {string: number}:2"),
    )


def test_crlf_sources_keep_their_line_breaks() -> None:
    source = "local a: number = 1\r\ntype T = {\r\n  x: number\r\n}\r\nreturn a\r\n"
    out = erase_types(source, "crlf.lua")
    _same_layout(source, out)
    assert out.count("\r\n") == 5
    assert invalid("local a = 1\r\nlocal b: = 2\r\n").startswith("app/typed.lua:2:")


# -- what cannot be erased -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "local a = 1\nlocal x: = 1\n",
            "app/typed.lua:2: cannot erase the type of local 'x': expected a type, got '='",
        ),
        (
            "\n\nfunction f(a: string, b: ) end\n",
            "app/typed.lua:3: cannot erase the type of parameter 'b' of function 'f': expected a type, got ')'",
        ),
        (
            "local function g(): end\n",
            "app/typed.lua:1: cannot erase the return type of function 'g': expected a type, got 'end'",
        ),
        (
            "type Config = {\n  host: string,\n  port number\n}\n",
            "app/typed.lua:3: cannot erase the type declaration 'Config': expected ',' or '}', got 'number'",
        ),
        (
            "type Open = {a: string,\n",
            "app/typed.lua:2: cannot erase the type declaration 'Open': expected a type, got the end of the file",
        ),
        (
            "local cb: function = nil\n",
            "app/typed.lua:1: cannot erase the type of local 'cb': expected a type, got 'function' "
            "(a function type is written (params) -> result or fun(params): result)",
        ),
        (
            "local v = x :: = 2\n",
            "app/typed.lua:1: cannot erase the cast '::': expected a type, got '='",
        ),
        (
            "local function id<T,>(x: T): T return x end\n",
            "app/typed.lua:1: cannot erase the generic parameters of function 'id': expected a name, got '>'",
        ),
        (
            "interface Shape\n  area: number\n  local x = 1\nend\n",
            "app/typed.lua:3: cannot erase the interface 'Shape': expected 'function', a field or 'end', got 'local'",
        ),
        (
            "for k: , v in pairs({}) do end\n",
            "app/typed.lua:1: cannot erase the type of loop variable 'k': expected a type, got ','",
        ),
    ],
)
def test_unparseable_annotations_name_the_construct_file_and_line(source: str, message: str) -> None:
    assert invalid(source) == message


def test_types_used_as_runtime_values_are_refused_with_file_and_line() -> None:
    typed = "type Point = {x: number, y: number}\nlocal data: any = {x = 1, y = 2}\n"
    assert invalid(typed + "local p = Point(data)\n") == (
        "app/typed.lua:3: the type 'Point' is used as a runtime value (safe cast Point(...)); "
        "type values (safe casts, :is(), reflection) are not supported, types are erased"
    )
    assert invalid(typed + "\nif Point:is(data) then end\n").startswith(
        "app/typed.lua:4: the type 'Point' is used as a runtime value (method call Point:...)"
    )
    assert invalid(typed + "for name in Point:fields() do end\n").startswith(
        "app/typed.lua:3: the type 'Point'"
    )
    assert invalid("local x: any = 1\nlocal n = integer(x)\n") == (
        "app/typed.lua:2: 'integer(...)' is a runtime type cast or type reflection, which is not supported "
        "(types are erased)"
    )
    assert invalid("local arr: {number} = {1}\nprint(typeof(arr))\n").startswith(
        "app/typed.lua:2: 'typeof(...)'"
    )


def test_a_type_name_that_is_also_a_variable_is_a_plain_value() -> None:
    """``type Stack = …`` next to ``local Stack = {}`` (the class pattern) is fine."""
    assert run(
        """
        type Counter = {n: integer}
        local Counter = {}
        Counter.__index = Counter
        function Counter.new(): Counter return setmetatable({n = 0}, Counter) end
        function Counter:inc(): integer self.n = self.n + 1 return self.n end
        local c = Counter.new()
        c:inc()
        return Counter.inc(c), string.format("%d", 7)
        """
    ) == (2, "7")


def test_untyped_calls_of_type_like_names_are_left_to_lua() -> None:
    """Only typed chunks are checked: plain code calling a global ``integer`` stays as it is."""
    source = "local n = integer(3)\nreturn typeof(n)\n"
    assert erase_types(source, "plain.lua") == source


# -- speed ----------------------------------------------------------------------------------


def test_a_two_thousand_line_file_erases_fast() -> None:
    import time

    block = textwrap.dedent(
        """\
        do
        type Item = {id: string, count: integer, tags: {string}?}
        local function total(items: {Item}, scale: number?): (number, string?)
            local sum: number = 0
            for _, item in ipairs(items) do
                sum = sum + item.count * (scale or 1) -- "count": integer
            end
            local label = ("total %d"):format(sum) :: string
            return sum, label
        end
        local obj = {base = 1}
        function obj:add(x: number, y: number): number
            return self.base + x + y
        end
        end
        """
    )
    source = block * (2000 // block.count("\n") + 1)
    assert source.count("\n") >= 2000
    erase_types(source, "big.lua")
    started = time.perf_counter()
    out = erase_types(source, "big.lua")
    elapsed = time.perf_counter() - started
    chunk, message = _load(out, "big.lua")
    assert chunk is not None, message
    assert elapsed < 0.5, f"{elapsed * 1000:.1f} ms for {source.count(chr(10))} lines"


# -- properties -----------------------------------------------------------------------------

NAMES = ["a", "b", "cnt", "obj", "value", "as", "type", "export", "interface"]
HOSTILE_STRINGS = [
    '"local x: number = 1"',
    "'a:b() ::l:: x as T'",
    '"type X = {a: string}"',
    "[==[ x :: T ]] (a: number) -> string ]==]",
    '"esc \\" :: T"',
    "'\\z\n   more: T'",
    "[[\nfunction f(a: T): R end\n]]",
]
COMMENTS = ["-- local y: T = 1", "--[[ function f(a: T): R ]]", "--[==[ ]] :: T ]==]", "--[[\ntype X = Y\n]]"]

# A program is a list of (text, is_annotation) pieces: the typed source joins
# them all; erasing it must give the pieces with every annotation blanked.
Pieces = list[tuple[str, bool]]


def _blank(text: str) -> str:
    return "".join(ch if ch in "\r\n" else " " for ch in text)


_simple_types = st.sampled_from(
    ["number", "string", "integer?", "any", "T", "mod.Type", '"lit"', "nil", "true", "{string}", "{}"]
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, inner).map(lambda p: f"{p[0]} | {p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} & {p[1]}"),
        inner.map(lambda t: f"{{{t}}}"),
        st.tuples(inner, inner).map(lambda p: f"{{[{p[0]}]: {p[1]}}}"),
        st.tuples(inner, inner).map(lambda p: f"{{name: {p[0]},\n  opt?: {p[1]}}}"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}, b: {p[1]}) -> {p[1]}"),
        inner.map(lambda t: f"fun(x: {t}): {t}"),
        st.tuples(inner, inner).map(lambda p: f"Map<{p[0]}, {p[1]}>"),
        inner.map(lambda t: f"({t})?"),
        inner.map(lambda t: f"{{{t}}}[]"),
        inner.map(lambda t: f"{t} @min(1)"),
    )


types = st.recursive(_simple_types, _compound, max_leaves=6)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> Pieces:
    choice = draw(st.integers(0, 9 if depth < 2 else 3))
    if choice == 0:
        return [(draw(st.sampled_from(["1", "0x1F", "2.5e3", "nil", "true"])), False)]
    if choice == 1:
        return [(draw(st.sampled_from(HOSTILE_STRINGS)), False)]
    if choice == 2:
        return [(draw(st.sampled_from(NAMES)), False)]
    if choice == 3:
        return [("obj.field", False)]
    if choice == 4:
        return [("obj:m(", False), *draw(expressions(depth + 1)), (")", False)]
    if choice == 5:
        return [("{k = ", False), *draw(expressions(depth + 1)), (", [1] = 2}", False)]
    if choice == 6:  # a cast, in parentheses so what follows cannot extend the type
        cast = draw(st.sampled_from([" :: ", " as "]))
        return [("(", False), *draw(expressions(depth + 1)), (cast + draw(types), True), (")", False)]
    if choice == 7:
        return [("(", False), *draw(expressions(depth + 1)), ("!", True), (")", False)]
    if choice == 8:
        return draw(functions(depth + 1, anonymous=True))
    return [*draw(expressions(depth + 1)), (" .. ", False), *draw(expressions(depth + 1))]


def _maybe_type(draw: st.DrawFn, prefix: str = ": ") -> Pieces:
    if draw(st.booleans()):
        return [(prefix + draw(types), True)]
    return []


@st.composite
def functions(draw: st.DrawFn, depth: int = 0, anonymous: bool = False) -> Pieces:
    pieces: Pieces = [("function" if anonymous else "local function fn", False)]
    if draw(st.booleans()):
        pieces.append(("<T, U: " + draw(types) + ">", True))
    pieces.append(("(", False))
    params = draw(st.lists(st.sampled_from(["p", "q", "r"]), max_size=3, unique=True))
    for index, name in enumerate(params):
        pieces.append(((", " if index else "") + name, False))
        pieces += _maybe_type(draw)
    if draw(st.booleans()):
        pieces.append(((", " if params else "") + "...", False))
        pieces += _maybe_type(draw)
    pieces.append((")", False))
    if draw(st.booleans()):
        pieces.append((": " + ", ".join(draw(st.lists(types, min_size=1, max_size=2))), True))
    pieces.append(("\n  return ", False))
    pieces += draw(expressions(depth + 1))
    pieces.append(("\nend", False))
    return pieces


_labels = iter(range(10**9))


@st.composite
def statements(draw: st.DrawFn) -> Pieces:
    choice = draw(st.integers(0, 8))
    if choice == 0:
        return [("local v", False), *_maybe_type(draw), (" = ", False), *draw(expressions())]
    if choice == 1:
        return [("local w", False), *_maybe_type(draw), (", z", False), *_maybe_type(draw)]
    if choice == 2:
        return [(draw(st.sampled_from(NAMES)) + " = ", False), *draw(expressions())]
    if choice == 3:
        return [("obj:m(", False), *draw(expressions()), (")", False)]
    if choice == 4:
        return draw(functions())
    if choice == 5:
        label = f"l{next(_labels)}"
        return [(f"do goto {label} end ::{label}::", False)]
    if choice == 6:
        keyword = draw(st.sampled_from(["type", "export type"]))
        return [(f"{keyword} Alias<T> = " + draw(types), True)]
    if choice == 7:
        return [(draw(st.sampled_from(COMMENTS)) + "\n", False)]  # a comment ends its line
    return [("for k", False), *_maybe_type(draw), (", v in pairs(obj) do obj:m(k) end", False)]


@st.composite
def programs(draw: st.DrawFn) -> Pieces:
    pieces: Pieces = []
    for statement in draw(st.lists(statements(), min_size=1, max_size=6)):
        pieces += statement
        pieces.append((draw(st.sampled_from(["\n", "\n\n", "; ", " "])), False))
    pieces.append(("return obj", False))
    if draw(st.booleans()):  # a comment at the very end, no newline after it
        pieces.append((" " + draw(st.sampled_from(COMMENTS)), False))
    return pieces


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_property_erasure_blanks_exactly_the_annotations(pieces: Pieces) -> None:
    typed = "".join(text for text, _ in pieces)
    expected = "".join(_blank(text) if annotation else text for text, annotation in pieces)
    plain = "".join(text for text, annotation in pieces if not annotation)
    assert erase_types(typed, "prop.lua") == expected
    assert erase_types(plain, "prop.lua") == plain
    lua = _lua()
    for source in (expected, plain):
        chunk, message = _load(source, "prop.lua", lua)
        assert chunk is not None, (message, source)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:.()[]{}=<>,\"'-! \n\\#@?|&~;0123456789xas")), max_size=80))
def test_property_arbitrary_text_never_crashes_and_keeps_layout(text: str) -> None:
    """Garbage in: either a clean INVALID error or a same-layout output, never a traceback."""
    try:
        out = erase_types(text, "junk.lua")
    except errors.Error as err:
        assert err.kind() == errors.INVALID
        assert re.match(r"^junk\.lua:\d+: ", err.message())
    else:
        _same_layout(text, out)
