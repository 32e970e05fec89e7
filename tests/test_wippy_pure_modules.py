"""Wippy's pure modules: yaml, base64, hash, text, as their pages describe (values and errors as value, err)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from actors.entries import load_app
from actors.lua.runtime import LuaState

from .lua_support import run_lua, write_app


def lua(tmp_path: Path, body: str, modules: tuple[str, ...]) -> object:
    return run_lua(tmp_path, f"return function()\n{body}\nend\n", modules=modules)


def test_yaml_encodes_in_field_order_and_decodes_types(tmp_path: Path) -> None:
    value = lua(
        tmp_path,
        """
  local yaml = require("yaml")
  local ordered = yaml.encode({zebra = 1, alpha = 2, name = "test", kind = "demo"},
                              {field_order = {"name", "kind"}, sort_unordered = true})
  local list = yaml.encode({"apple", "banana"})
  local config = yaml.decode("server:\\n  host: localhost\\n  port: 8080\\nratio: 3.14\\nenabled: true\\ntags: [lua, wippy]\\n")
  local _, not_table = yaml.encode("text")
  local _, empty = yaml.decode("")
  local _, broken = yaml.decode("a: [unclosed")
  local _, bomb = yaml.decode("a: &a [x, x, x, x, x, x, x, x, x, x]\\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\\n"
    .. "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\\n"
    .. "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\\n")
  return {ordered, list, config.server.host, config.server.port, math.type(config.server.port),
          config.ratio, config.enabled, config.tags[2],
          not_table:kind(), empty:kind(), broken:kind(), bomb:kind()}
""",
        ("yaml",),
    )
    assert value == [
        "name: test\nkind: demo\nalpha: 2\nzebra: 1\n",
        "- apple\n- banana\n",
        "localhost",
        8080,
        "integer",
        3.14,
        True,
        "wippy",
        "INVALID",
        "INVALID",
        "INTERNAL",
        "LIMIT_EXCEEDED",
    ]


def test_base64_round_trips_binary_and_refuses_bad_input(tmp_path: Path) -> None:
    value = lua(
        tmp_path,
        """
  local base64 = require("base64")
  local binary = "\\0\\255\\1hello"
  local encoded = base64.encode("Hello, World!")
  local back = base64.decode(base64.encode(binary))
  local _, bad = base64.decode("not base64!!")
  local _, padding = base64.decode("SGVsbG8=x")
  local _, wrong = base64.encode(42)
  return {encoded, base64.decode(encoded), back == binary, base64.encode(""), bad:kind(), padding:kind(), wrong:kind()}
""",
        ("base64",),
    )
    assert value == ["SGVsbG8sIFdvcmxkIQ==", "Hello, World!", True, "", "INVALID", "INVALID", "INVALID"]


def test_hash_digests_hmacs_fnv_and_pbkdf2_match_the_standard_values(tmp_path: Path) -> None:
    value = lua(
        tmp_path,
        """
  local hash = require("hash")
  local raw = hash.sha256("data", true)
  local key = hash.pbkdf2("password", "salt", 1000, 32)
  local _, few = hash.pbkdf2("password", "salt", 0, 32)
  local _, algo = hash.pbkdf2("password", "salt", 10, 32, "md5")
  local _, wrong = hash.md5(7)
  return {hash.md5("data"), hash.sha1("data"), hash.sha256("data"), hash.sha512("data"), #raw,
          hash.hmac_sha256("message", "secret"), hash.hmac_md5("message", "secret"),
          hash.fnv32("data"), hash.fnv32(""), #key, key == hash.pbkdf2("password", "salt", 1000, 32, "sha256"),
          few:kind(), algo:kind(), wrong:kind()}
""",
        ("hash",),
    )
    data = b"data"
    assert value[:5] == [
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        hashlib.sha512(data).hexdigest(),
        32,
    ]
    assert value[5] == hmac.new(b"secret", b"message", hashlib.sha256).hexdigest()
    assert value[6] == hmac.new(b"secret", b"message", hashlib.md5).hexdigest()
    # FNV-1 32 (Go's fnv.New32: multiply by the prime, then xor each byte); "" is the offset basis
    expected = 0x811C9DC5
    for byte in data:
        expected = ((expected * 0x01000193) & 0xFFFFFFFF) ^ byte
    assert value[7] == expected and value[8] == 0x811C9DC5
    assert value[9:] == [32, True, "INVALID", "INVALID", "INVALID"]


def test_text_regexps_work_on_bytes_like_go(tmp_path: Path) -> None:
    value = lua(
        tmp_path,
        """
  local text = require("text")
  local re = text.regexp.compile("([a-z]+)=(\\\\d+)")
  local named = text.regexp.compile("(?P<key>\\\\w+)@(?P<host>\\\\w+)")
  local digits = text.regexp.compile("[0-9]+")
  local _, bad = text.regexp.compile("(unclosed")
  return {
    re:match_string("x a=1"), re:find_string("a=1 b=2"), re:find_all_string("a=1 b=2 c=3", 2),
    re:find_string_submatch("b=22"), re:find_all_string_submatch("a=1 b=2"),
    digits:find_string_index("abc123"), digits:find_all_string_index("a1b22"), digits:find_all_string_index("none") == nil,
    re:replace_all_string("a=1 b=2", "$2:$1"), named:replace_all_string("ada@home", "${host}/${key}$$"),
    text.regexp.compile(","):split("a,b,c", -1), text.regexp.compile(","):split("a,b,c", 2),
    re:num_subexp(), named:subexp_names(), re:string(), digits:find_string("none") == nil, bad:kind(),
  }
""",
        ("text",),
    )
    assert value == [
        True,
        "a=1",
        ["a=1", "b=2"],
        ["b=22", "b", "22"],
        [["a=1", "a", "1"], ["b=2", "b", "2"]],
        [4, 6],
        [[2, 2], [4, 5]],
        True,
        "1:a 2:b",
        "home/ada$",
        ["a", "b", "c"],
        ["a", "b,c"],
        2,
        ["", "key", "host"],
        "([a-z]+)=(\\d+)",
        True,
        "INVALID",
    ]


def test_text_regexp_of_a_pathological_pattern_ends_at_once(tmp_path: Path) -> None:
    """RE2 is linear: (a+)+$ against many a's and a b never backtracks for minutes."""
    value = lua(
        tmp_path,
        """
  local re = require("text").regexp.compile("(a+)+$")
  return re:match_string(string.rep("a", 100000) .. "b")
""",
        ("text",),
    )
    assert value is False


def test_text_diffs_patches_and_splitters(tmp_path: Path) -> None:
    value = lua(
        tmp_path,
        """
  local text = require("text")
  local diff = text.diff.new()
  local diffs = diff:compare("hello world", "hello there")
  local summary = diff:summarize(diffs)
  local a = "The quick brown fox jumps over the lazy dog"
  local b = "The quick red fox jumps over the lazy cat"
  local patches = diff:patch_make(a, b)
  local patched, ok = diff:patch_apply(patches, a)
  local splitter = text.splitter.recursive({chunk_size = 20, chunk_overlap = 0})
  local chunks = splitter:split_text("one two three four five six seven eight nine ten")
  local batch = splitter:split_batch({{content = "alpha beta", metadata = {page = 1}}})
  local md = text.splitter.markdown({chunk_size = 100, chunk_overlap = 0})
  local sections = md:split_text("# Title\\nintro\\n## Part\\n```\\n# not a heading\\n```\\n")
  local _, bad = text.splitter.recursive({chunk_size = 10, chunk_overlap = 10})
  return {diffs, summary, diff:pretty_html(diffs), patched, ok, chunks, batch, sections, bad:kind()}
""",
        ("text",),
    )
    assert value[0] == [
        {"operation": "equal", "text": "hello "},
        {"operation": "delete", "text": "world"},
        {"operation": "insert", "text": "there"},
    ]
    assert value[1] == {"equals": 6, "deletions": 5, "insertions": 5}
    assert value[2] == "hello <del>world</del><ins>there</ins>"
    assert value[3:5] == ["The quick red fox jumps over the lazy cat", True]
    assert value[5] == ["one two three four", "five six seven eight", "nine ten"]
    assert all(len(chunk) <= 20 for chunk in value[5])
    assert value[6] == [{"content": "alpha beta", "metadata": {"page": 1}}]
    assert value[7] == ["# Title\nintro", "## Part\n```\n# not a heading\n```"]
    assert value[8] == "INVALID"


def test_pure_modules_load_in_a_workflow_state(tmp_path: Path) -> None:
    """The pages mark yaml, base64, hash and text for workflows: a deterministic state loads them."""
    write_app(
        tmp_path,
        [
            {
                "name": "main",
                "kind": "process.lua",
                "source": "file://main.lua",
                "modules": ["yaml", "base64", "hash", "text"],
            }
        ],
        {
            "main.lua": """
return function()
  local loaded = {}
  for _, name in ipairs({"yaml", "base64", "hash", "text"}) do
    loaded[#loaded + 1] = type(require(name))
  end
  return loaded
end
"""
        },
    )
    code = load_app(tmp_path).require("app:main").lua_code()
    state = LuaState(deterministic=True)
    fn = state.load_entry(code.source, code.chunkname, code.method, code.modules)
    assert list(fn().values()) == [b"table"] * 4  # straight from Lua: strings are bytes
