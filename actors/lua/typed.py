"""Typed Lua: erase Wippy's type annotations so plain Lua 5.5 runs the code.

Wippy's Lua accepts a gradual type system (Wippy docs, ``en/lua/types.md``):
``local x: number = 1``, ``function f(a: string, b: number?): (boolean,
string?)``, generics ``<T>``, ``type Name = …`` declarations, casts
``x :: T`` and ``x as T``, the non-nil assertion ``x!``, validators
``@min(0)`` and ``interface`` declarations.  :func:`erase_types` turns such
a source into plain Lua by replacing every annotation character with a
space (newlines are kept), so every line and column of the remaining code is
where it was: an error in the erased code points at the same place as in the
original file.  A source without annotations comes back unchanged, byte for
byte (the very same string).

Annotations are **not checked**: this is erasure, not Wippy's type checker
(``wippy lint``).  A wrong annotation is erased like a right one.  Types as
runtime values (``User(data)``, ``Point:is(data)``, ``User:fields()``, and
in a typed file ``typeof(x)`` or ``integer(x)``) cannot be erased: they get
an ``INVALID`` error naming the construct, with file and line, like an
annotation the eraser cannot parse.  Type arguments of a call
(``f::<T>(x)``) are erased.

How: a Lua 5.5 lexer (strings with every escape, long strings and comments
of any level, numbers including hex floats, every operator) feeds a small
parser that knows the few places an annotation can start — after a name in
``local`` and ``for``, in a function's parameter list and after it, after
``function name`` (generic parameters), at a statement starting with
``type``/``export type``/``interface``, and after an expression (``::``,
``as``, ``!``) — and parses the type there with Wippy's type grammar (read
from its parser, ``wippyai/go-lua`` ``compiler/parse/parser.go.y``) to know
where it ends.  Every trigger is a token sequence that plain Lua never
contains, so untyped code is never touched: ``obj:m()`` is a method call,
``::name::`` a label, ``{a = 1}`` a table.  The one guess is ``as``, which is
a valid Lua name: ``f() as {…}``, ``as (…)`` and ``as "…"`` are read as casts
only on the line of the expression they follow (on a new line they are the
call of a global named ``as``, as in plain Lua).
"""

from __future__ import annotations

import re

from actors import errors

__all__ = ["erase_types"]

# Token types: operators and keywords are their own text; the rest are these.
_NAME = " name"
_NUM = " number"
_STR = " string"
_EOF = " end of file"

_KEYWORDS = frozenset(
    [
        "and",
        "break",
        "do",
        "else",
        "elseif",
        "end",
        "false",
        "for",
        "function",
        "goto",
        "if",
        "in",
        "local",
        "nil",
        "not",
        "or",
        "repeat",
        "return",
        "then",
        "true",
        "until",
        "while",
    ]
)

# One match per token: the whitespace and short comments before it, then the
# token (a long comment counts as one, and is dropped).  Possessive quantifiers
# keep the skipping linear.
_LEX = re.compile(
    r"(?:[ \t\f\v\r\n]++|--(?!\[=*\[)[^\r\n]*+)*+"
    r"(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*+)"
    r"|(?P<comment>--\[(?P<cl>=*)\[.*?\](?P=cl)\])"
    r"|(?P<lstr>\[(?P<ls>=*)\[.*?\](?P=ls)\])"
    r"|(?P<num>0[xX](?:[pP][+-]?|[0-9a-fA-F.])*+|\.?[0-9](?:[eE][+-]?|[0-9a-fA-F.])*+)"
    r"|(?P<op>\.\.\.|\.\.|::|->|==|~=|<=|>=|<<|>>|//|[-+*/%^#&~|<>=(){}\[\];:,.?!@])"
    r"|(?P<str>\"(?:[^\"\\\r\n]|\\(?:z\s*|\r\n|\n\r|.))*+\"|'(?:[^'\\\r\n]|\\(?:z\s*|\r\n|\n\r|.))*+')"
    r"|(?P<bad>.)"
    r"|(?P<end>\Z))",
    re.S,
)
_LONG_OPEN = re.compile(r"\[=*\[")

# What a token that ends an expression looks like (a cast or `!` may follow).
_EXPR_END = frozenset({_NAME, _NUM, _STR, ")", "]", "}", "...", "nil", "true", "false", "end", "!"})
# After these a new statement may begin (so `type Name =` is a declaration).
_STAT_AFTER = _EXPR_END | {";", "::", "do", "then", "else", "repeat", "break", None}
# Lua's local attributes (`<const>`, `<close>`): never generic arguments.
_ATTRIBS = frozenset({"const", "close"})
_MAX_DEPTH = 100
# Names Wippy calls as runtime casts or reflection: not erasable.
_RUNTIME_TYPE_CALLS = frozenset({"typeof", "integer", "number", "boolean", "string"})


class _Fail(Exception):
    """A type that does not parse: the token index where it broke and what was expected."""

    def __init__(self, index: int, expected: str) -> None:
        super().__init__(expected)
        self.index = index
        self.expected = expected


def erase_types(source: str, chunkname: str) -> str:
    """``source`` with its type annotations replaced by spaces (lines and columns kept).

    Plain Lua comes back unchanged.  A construct that cannot be erased raises
    :class:`actors.errors.Error` ``INVALID`` with ``chunkname:line:`` and
    what the construct is.  Annotations are not checked.
    """
    eraser = _Eraser(source, chunkname)
    eraser.run()
    if not eraser.spans:
        return source
    return eraser.erased()


class _Eraser:
    def __init__(self, source: str, chunkname: str) -> None:
        self.source = source
        self.chunkname = chunkname
        self.spans: list[tuple[int, int]] = []
        self.type_names: dict[str, int] = {}  # declared with `type`/`interface` → token index
        self.bound: set[str] = set()  # names the chunk binds as variables
        self.calls: list[int] = []  # identifiers used as callee/receiver in code
        self.depth = 0
        self.skip_back: dict[int, int] = {}  # last erased token → the token before its span
        self._tokenize()

    # -- lexer -----------------------------------------------------------------------------------

    def _tokenize(self) -> None:
        source = self.source
        ty: list[str] = []
        tx: list[str] = []
        st: list[int] = []
        en: list[int] = []
        start = 0
        if source.startswith("\ufeff"):  # a byte order mark
            start = 1
        if source.startswith("#", start):  # a shebang line, as the runtime's loader skips it
            newline = source.find("\n", start)
            start = len(source) if newline < 0 else newline
        keywords = _KEYWORDS
        for m in _LEX.finditer(source, start):
            group = m.lastgroup
            if group == "name":
                text = m.group(group)
                ty.append(text if text in keywords else _NAME)
            elif group == "op":
                text = m.group(group)
                if (text == "-" and source.startswith("-", m.end())) or (
                    text == "[" and _LONG_OPEN.match(source, m.start(group))
                ):
                    break  # an unfinished long comment or string: Lua reports it
                ty.append(text)
            elif group == "str" or group == "lstr":
                text = ""
                ty.append(_STR)
            elif group == "num":
                text = ""
                ty.append(_NUM)
            elif group == "comment":
                continue
            else:  # the end, a character Lua does not accept, or an unfinished string: Lua reports it
                break
            tx.append(text)
            st.append(m.start(group))
            en.append(m.end())
        end = len(source)
        for _ in range(4):  # lookahead never runs off the end
            ty.append(_EOF)
            tx.append("")
            st.append(end)
            en.append(end)
        self.ty, self.tx, self.st, self.en = ty, tx, st, en
        self.count = len(ty) - 4

    def _split_gt(self, i: int) -> None:
        """Split ``>>`` or ``>=`` at ``i`` into ``>`` and the rest (nested generics: ``A<B<C>>``)."""
        rest = self.tx[i][1:]
        start = self.st[i]
        self.ty[i] = self.tx[i] = ">"
        self.en[i] = start + 1
        self.ty.insert(i + 1, rest)
        self.tx.insert(i + 1, rest)
        self.st.insert(i + 1, start + 1)
        self.en.insert(i + 1, start + 1 + len(rest))
        self.count += 1

    # -- output ----------------------------------------------------------------------------------

    def erased(self) -> str:
        source = self.source
        parts: list[str] = []
        position = 0
        for start, end in sorted(self.spans):
            if start < position:
                start = position
            parts.append(source[position:start])
            parts.append(_blank(source[start:end]))
            position = max(position, end)
        parts.append(source[position:])
        return "".join(parts)

    def _erase(self, first: int, last: int) -> None:
        """Blank tokens ``first`` to ``last - 1`` (and what lies between them)."""
        if last > first:
            self.spans.append((self.st[first], self.en[last - 1]))
            self.skip_back[last - 1] = first - 1

    def _prev_index(self, i: int) -> int:
        """The code token before ``i``, looking through erased annotations (-1: none)."""
        p = i - 1
        skip_back = self.skip_back
        while p in skip_back:
            p = skip_back[p]
        return p

    def _prev(self, i: int) -> str | None:
        p = self._prev_index(i)
        return self.ty[p] if p >= 0 else None

    # -- errors ----------------------------------------------------------------------------------

    def _line(self, i: int) -> int:
        position = self.st[i]
        return self.source.count("\n", 0, position) + 1 + _lone_crs(self.source, position)

    def _error(self, i: int, message: str) -> errors.Error:
        return errors.Error(errors.INVALID, f"{self.chunkname}:{self._line(i)}: {message}")

    def _describe(self, i: int) -> str:
        if self.ty[i] == _EOF:
            return "the end of the file"
        text = self.source[self.st[i] : self.en[i]]
        return repr(text if len(text) <= 20 else text[:17] + "...")

    def _fail_error(self, fail: _Fail, construct: str) -> errors.Error:
        got = self._describe(fail.index)
        hint = ""
        if self.tx[fail.index] == "function":
            hint = " (a function type is written (params) -> result or fun(params): result)"
        return self._error(fail.index, f"cannot erase {construct}: expected {fail.expected}, got {got}{hint}")

    # -- the pass over the chunk -----------------------------------------------------------------

    def run(self) -> None:
        """One pass over the tokens: each trigger erases its annotation and returns past it."""
        ty = self.ty
        count = self.count
        i = 0
        while i < count:
            t = ty[i]
            if t is _NAME:
                i = self._name(i)
            elif t == "local":
                i = self._local(i)
            elif t == "function":
                i = self._function(i)
            elif t == "for":
                i = self._for(i)
            elif t == "::":
                i = self._double_colon(i)
            elif t == "!" and self._prev(i) in _EXPR_END:
                self._erase(i, i + 1)
                i += 1
            else:
                i += 1
            count = self.count  # `>>` split in two adds a token
        if self.spans:
            self._check_runtime_types()

    def _name(self, i: int) -> int:
        ty, tx = self.ty, self.tx
        text = tx[i]
        prev = self._prev(i)
        nxt = ty[i + 1]
        if text in ("type", "export", "interface") and prev in _STAT_AFTER and nxt is _NAME:
            if text == "type" and ty[i + 2] in ("=", "<"):
                return self._type_declaration(i, i)
            if text == "export" and tx[i + 1] == "type" and ty[i + 2] is _NAME and ty[i + 3] in ("=", "<"):
                return self._type_declaration(i, i + 1)
            if text == "interface":
                return self._interface(i)
        if text == "as" and prev in _EXPR_END:
            end = self._as_cast(i)
            if end is not None:
                return end
        if prev != "." and prev != ":" and prev != "goto" and prev != "::":
            if nxt == "=":
                self.bound.add(text)
            elif nxt in ("(", ":", ".", "[", "{") or nxt is _STR:
                self.calls.append(i)
        return i + 1

    def _double_colon(self, i: int) -> int:
        """A label ``::name::``, a cast ``expr :: T`` or type arguments ``f::<T>(…)``."""
        ty = self.ty
        if self._is_label(i):
            return i + 3
        if self._prev(i) not in _EXPR_END:
            return i + 1  # not after an expression: Lua reports what it is
        try:
            if ty[i + 1] == "<" and self.en[i] == self.st[i + 1]:
                construct = "the type arguments '::<…>'"
                end = self._expect_gt(self._type_list(i + 2))
            else:
                construct = "the cast '::'"
                end = self._type(i + 1)
        except _Fail as fail:
            raise self._fail_error(fail, construct) from None
        self._erase(i, end)
        return end

    def _is_label(self, i: int) -> bool:
        """``:: name ::`` at ``i`` is a label (Lua's reading), unless a cast is meant.

        Wippy reads ``::`` as a label only when ``name ::`` follows on the same
        line; ``x :: T`` at the end of a line followed by a label on the next
        (``::done::``) is a cast then a label.  A label split over lines, which
        plain Lua allows, stays a label unless such a label follows it.
        """
        ty = self.ty
        if ty[i + 1] is not _NAME or ty[i + 2] != "::":
            return False
        if self._tight(i):
            return True
        return not (ty[i + 3] is _NAME and ty[i + 4] == "::" and self._tight(i + 2))

    def _tight(self, i: int) -> bool:
        """Only spaces and tabs between the three tokens ``::`` name ``::`` at ``i``."""
        source, st, en = self.source, self.st, self.en
        return not source[en[i] : st[i + 1]].strip(" \t") and not source[en[i + 1] : st[i + 2]].strip(" \t")

    def _as_cast(self, i: int) -> int | None:
        ty = self.ty
        nxt = ty[i + 1]
        if nxt is _NAME or nxt in ("nil", "true", "false") or nxt is _NUM:
            try:
                end = self._type(i + 1)
            except _Fail as fail:
                raise self._fail_error(fail, "the cast 'as'") from None
        elif nxt in ("(", "{") or nxt is _STR:
            # Plain Lua reads `as (…)` on a new line as a call of a global `as`.
            between = self.source[self.en[self._prev_index(i)] : self.st[i]]
            if "\n" in between or "\r" in between:
                return None
            try:
                end = self._type(i + 1)
            except _Fail:
                return None
        else:
            return None
        self._erase(i, end)
        return end

    # -- statements ------------------------------------------------------------------------------

    def _local(self, i: int) -> int:
        ty = self.ty
        j = i + 1
        if ty[j] == "function":
            if ty[j + 1] is _NAME:
                self.bound.add(self.tx[j + 1])
            return self._function(j)
        j = self._attrib(j)
        while ty[j] is _NAME:
            name = self.tx[j]
            self.bound.add(name)
            j += 1
            if ty[j] == ":":
                j = self._annotation(j, f"the type of local '{name}'")
            j = self._attrib(j)
            if ty[j] != ",":
                break
            j += 1
        return j

    def _attrib(self, j: int) -> int:
        if self.ty[j] == "<" and self.tx[j + 1] in _ATTRIBS and self.ty[j + 2] == ">":
            return j + 3
        return j

    def _for(self, i: int) -> int:
        ty = self.ty
        j = i + 1
        while ty[j] is _NAME:
            name = self.tx[j]
            self.bound.add(name)
            j += 1
            if ty[j] == ":":
                j = self._annotation(j, f"the type of loop variable '{name}'")
            if ty[j] != ",":
                break
            j += 1
        return j

    def _annotation(self, colon: int, construct: str) -> int:
        """Erase ``: Type`` starting at the colon; the index after the type."""
        try:
            end = self._type(colon + 1)
        except _Fail as fail:
            raise self._fail_error(fail, construct) from None
        self._erase(colon, end)
        return end

    def _function(self, i: int) -> int:
        """``function [name] [<T>] (params) [: results]``: erase the types, stop at the body."""
        ty, tx = self.ty, self.tx
        j = i + 1
        name = "anonymous function"
        if ty[j] is _NAME:
            name = tx[j]
            self.bound.add(name)
            j += 1
            while ty[j] in (".", ":") and ty[j + 1] is _NAME:
                name += tx[j] + tx[j + 1]
                j += 2
            name = f"function '{name}'"
        if ty[j] == "<":
            try:
                end = self._type_params(j)
            except _Fail as fail:
                raise self._fail_error(fail, f"the generic parameters of {name}") from None
            self._erase(j, end)
            j = end
        if ty[j] != "(":
            return j  # not a function definition Lua accepts: Lua reports it
        j += 1
        while True:
            t = ty[j]
            if t is _NAME:
                param = tx[j]
                self.bound.add(param)
                j += 1
                if ty[j] == ":":
                    j = self._annotation(j, f"the type of parameter '{param}' of {name}")
            elif t == "...":
                j += 1
                if ty[j] is _NAME:  # Lua 5.5's named vararg table
                    self.bound.add(tx[j])
                    j += 1
                if ty[j] == ":":
                    j = self._annotation(j, f"the type of the varargs of {name}")
            else:
                break
            if ty[j] != ",":
                break
            j += 1
        if ty[j] != ")":
            return j
        j += 1
        if ty[j] == ":":
            try:
                end = self._type_list(j + 1)
            except _Fail as fail:
                raise self._fail_error(fail, f"the return type of {name}") from None
            self._erase(j, end)
            j = end
        return j

    def _type_declaration(self, first: int, keyword: int) -> int:
        """``[export] type Name[<T>] = Type``: erased whole."""
        ty = self.ty
        name_index = keyword + 1
        name = self.tx[name_index]
        construct = f"the type declaration '{name}'"
        j = name_index + 1
        try:
            if ty[j] == "<":
                j = self._type_params(j)
            if ty[j] != "=":
                raise _Fail(j, "'='")
            j = self._type(j + 1, leading_bar=True)
        except _Fail as fail:
            raise self._fail_error(fail, construct) from None
        self.type_names.setdefault(name, name_index)
        self._erase(first, j)
        return j

    def _interface(self, first: int) -> int:
        """``interface Name [: Base, …] function m(params): R … end``: erased whole."""
        ty, tx = self.ty, self.tx
        name = tx[first + 1]
        j = first + 2
        try:
            if ty[j] == ":":
                j += 1
                while True:
                    j = self._expect_name(j)
                    while ty[j] == "." and ty[j + 1] is _NAME:  # pkg.deep.Base
                        j += 2
                    if ty[j] != ",":
                        break
                    j += 1
            while ty[j] != "end":
                if ty[j] == "function":
                    j = self._expect_name(j + 1)
                    if ty[j] == "<":
                        j = self._type_params(j)
                    j = self._params_type(j)
                    if ty[j] == ":":
                        j = self._type_list(j + 1)
                elif ty[j] is _NAME and (ty[j + 1] == ":" or (ty[j + 1] == "?" and ty[j + 2] == ":")):
                    j = self._type(j + (2 if ty[j + 1] == ":" else 3))
                    if ty[j] in (",", ";"):
                        j += 1
                else:
                    raise _Fail(j, "'function', a field or 'end'")
        except _Fail as fail:
            raise self._fail_error(fail, f"the interface '{name}'") from None
        self.type_names.setdefault(name, first + 1)
        self._erase(first, j + 1)
        return j + 1

    # -- types (Wippy's grammar) -----------------------------------------------------------------

    def _expect(self, j: int, token: str) -> int:
        if self.ty[j] != token:
            raise _Fail(j, repr(token))
        return j + 1

    def _expect_name(self, j: int) -> int:
        if self.ty[j] is not _NAME:
            raise _Fail(j, "a name")
        return j + 1

    def _expect_gt(self, j: int) -> int:
        t = self.ty[j]
        if t == ">":
            return j + 1
        if t in (">>", ">="):
            self._split_gt(j)
            return j + 1
        raise _Fail(j, "'>'")

    def _type_params(self, j: int) -> int:
        """``<T, U: Constraint, V = Default>``."""
        ty = self.ty
        j += 1
        while True:
            j = self._expect_name(j)
            if ty[j] == ":":
                j = self._type(j + 1)
            if ty[j] == "=":
                j = self._type(j + 1)
            if ty[j] != ",":
                break
            j += 1
        return self._expect_gt(j)

    def _type_list(self, j: int) -> int:
        """``T, U, …`` (return types; a parenthesised list is a primary type)."""
        j = self._type(j)
        while self.ty[j] == ",":
            j = self._type(j + 1)
        return j

    def _type(self, j: int, leading_bar: bool = False) -> int:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise _Fail(j, f"a type nested at most {_MAX_DEPTH} deep")
            return self._union(j, leading_bar)
        finally:
            self.depth -= 1

    def _union(self, j: int, leading_bar: bool) -> int:
        ty = self.ty
        if leading_bar and ty[j] in ("|", "&"):
            j += 1
        j = self._simple(j)
        while True:
            t = ty[j]
            if t == "|" or t == "&":
                j = self._simple(j + 1)
            elif t is _NAME and self.tx[j] == "extends":  # Check extends Base ? Then : Else
                j = self._primary(j + 1)
                j = self._expect(j, "?")
                j = self._type(j)
                j = self._expect(j, ":")
                j = self._type(j)
            else:
                return j

    def _simple(self, j: int) -> int:
        ty = self.ty
        j = self._primary(j)
        while True:
            t = ty[j]
            if t == "?":
                j += 1
            elif t == "@":  # a validator: @name or @name(args)
                j = self._expect_name(j + 1)
                if ty[j] == "(":
                    j = self._skip_balanced(j)
            elif t == "[":  # T[] or T[K]
                if ty[j + 1] == "]":
                    j += 2
                else:
                    j = self._expect(self._type(j + 1), "]")
            else:
                return j

    def _primary(self, j: int) -> int:
        ty, tx = self.ty, self.tx
        t = ty[j]
        if t is _NAME:
            word = tx[j]
            nxt = ty[j + 1]
            if word == "fun" and nxt == "(":
                j = self._params_type(j + 1)
                if ty[j] == ":":
                    if ty[j + 1] == "(":
                        return self._primary(j + 1)
                    return self._type(j + 1)
                return j
            if word in ("typeof", "keyof") and nxt == "(":
                return self._skip_balanced(j + 1)
            if word in ("readonly", "interface") and nxt == "{":
                return self._table_type(j + 1)
            if word == "asserts" and nxt is _NAME:
                j += 2
                if ty[j] is _NAME and tx[j] == "is":
                    j = self._type(j + 1)
                return j
            j += 1
            while ty[j] == "." and ty[j + 1] is _NAME:
                j += 2
            if ty[j] == "<" and not (tx[j + 1] in _ATTRIBS and ty[j + 2] == ">"):
                try:
                    return self._expect_gt(self._type_list(j + 1))
                except _Fail:
                    return j  # `x :: number < 5`: a comparison, not generic arguments
            return j
        if t in ("nil", "true", "false") or t is _STR or t is _NUM:
            return j + 1
        if t == "-" and ty[j + 1] is _NUM:
            return j + 2
        if t == "{":
            return self._table_type(j)
        if t == "(":
            j = self._params_type(j)
            if ty[j] == "->":
                if ty[j + 1] == "(":
                    return self._primary(j + 1)
                return self._type(j + 1)
            return j  # a parenthesised type or a list of results
        if t == "...":
            j += 1
            if ty[j] is _NAME or ty[j] in ("(", "{", "nil"):
                j = self._type(j)
            return j
        raise _Fail(j, "a type")

    def _params_type(self, j: int) -> int:
        """``(a: T, U, ...: V)`` of a function type, or a parenthesised type list."""
        ty = self.ty
        j = self._expect(j, "(")
        if ty[j] == ")":
            return j + 1
        while True:
            if ty[j] is _NAME and ty[j + 1] == ":":
                j = self._type(j + 2)
            elif ty[j] == "...":
                j += 1
                if ty[j] == ":":
                    j += 1
                if ty[j] not in (")", ","):
                    j = self._type(j)
            else:
                j = self._type(j)
            if ty[j] != ",":
                break
            j += 1
        return self._expect(j, ")")

    def _table_type(self, j: int) -> int:
        """``{T}``, ``{[K]: V}``, ``{name: T, opt?: U @min(1), …}`` or ``{}``."""
        ty = self.ty
        j = self._expect(j, "{")
        while ty[j] != "}":
            t = ty[j]
            if t == "[":
                j = self._expect(self._type(j + 1), "]")
                j = self._type(self._expect(j, ":"))
            elif (t is _NAME or t in _KEYWORDS) and ty[j + 1] == ":":
                j = self._type(j + 2)
            elif (t is _NAME or t in _KEYWORDS) and ty[j + 1] == "?" and ty[j + 2] == ":":
                j = self._type(j + 3)
            else:
                j = self._type(j)
            if ty[j] in (",", ";"):
                j += 1
            elif ty[j] != "}":
                raise _Fail(j, "',' or '}'")
        return j + 1

    def _skip_balanced(self, j: int) -> int:
        """Skip ``( … )`` with nested brackets (validator arguments, ``typeof(expr)``)."""
        ty = self.ty
        depth = 0
        while True:
            t = ty[j]
            if t in ("(", "[", "{"):
                depth += 1
            elif t in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    return j + 1
            elif t is _EOF:
                raise _Fail(j, "')'")
            j += 1

    # -- types used as values --------------------------------------------------------------------

    def _check_runtime_types(self) -> None:
        """Refuse the type-as-value constructs of a typed chunk: erasure cannot give them a value."""
        tx = self.tx
        for i in self.calls:
            name = tx[i]
            if name in self.bound:
                continue
            if name in self.type_names:
                raise self._error(
                    i,
                    f"the type '{name}' is used as a runtime value ({_usage(name, self.ty[i + 1])}); "
                    "type values (safe casts, :is(), reflection) are not supported, types are erased",
                )
            if name in _RUNTIME_TYPE_CALLS and self.ty[i + 1] == "(":
                raise self._error(
                    i,
                    f"'{name}(...)' is a runtime type cast or type reflection, which is not supported "
                    "(types are erased)",
                )


def _usage(name: str, nxt: str) -> str:
    if nxt == ":":
        return f"method call {name}:..."
    if nxt in (".", "["):
        return f"field access {name}{nxt}..."
    return f"safe cast {name}(...)"


def _blank(text: str) -> str:
    if "\n" not in text and "\r" not in text:
        return " " * len(text)
    return "".join(ch if ch in "\r\n" else " " for ch in text)


def _lone_crs(source: str, position: int) -> int:
    """Line breaks that are a lone CR (Lua counts them as newlines)."""
    if "\r" not in source:
        return 0
    return len(re.findall(r"\r(?!\n)", source[:position]))
