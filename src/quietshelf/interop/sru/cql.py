"""A CQL 1.2 parser (lark grammar, LALR) into a small tree, and the checks on it.

The tree holds only what this server can answer: searches on known
indexes with known relations, joined by and, or, not. Everything else is
a diagnostic, never a guess. Terms never reach SQL as text: search.py turns
each into the catalogue backend's parsed clauses (SEC-SQL-1).
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

from quietshelf.interop.sru.diagnostics import Diagnostic

GRAMMAR = r"""
start: query sortby?
sortby: SORTBY sortkey+
sortkey: term modifiers
?query: query boolean clause -> boolean_query
      | clause
boolean: BOOLEAN modifiers
?clause: "(" query ")"
       | term relation term -> search
       | term -> bare
relation: (COMPARITOR | term) modifiers
modifiers: modifier*
modifier: "/" term (COMPARITOR term)?
term: WORD | QUOTED

SORTBY.3: /sortby(?![^\s()=<>"\/])/i
BOOLEAN.2: /(and|or|not|prox)(?![^\s()=<>"\/])/i
COMPARITOR: "==" | "<>" | "<=" | ">=" | "=" | "<" | ">"
QUOTED: /"(\\.|[^"\\])*"/
WORD: /[^\s()=<>"\/]+/
%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)

MAX_LEAVES = 12  # the public search's MAX_CLAUSES (SEC-DOS-1)


@dataclass(frozen=True)
class Search:
    index: str  # as written, lower-case
    relation: str  # as written, lower-case
    term: str
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Boolean:
    op: str  # and | or | not
    left: Search | Boolean
    right: Search | Boolean


@dataclass(frozen=True)
class SortKey:
    index: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    root: Search | Boolean
    sort: tuple[SortKey, ...] = ()


def _unquote(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        inner = raw[1:-1]
        out, i = [], 0
        while i < len(inner):
            ch = inner[i]
            if ch == "\\" and i + 1 < len(inner):
                nxt = inner[i + 1]
                # \" and \\ are literal; \* and \? keep the backslash (not a mask)
                out.append(nxt if nxt in '"\\' else ch + nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)
    return raw


@v_args(inline=True)
class _ToTree(Transformer):
    def term(self, token: Token) -> str:
        return _unquote(str(token))

    def modifier(self, name, *rest):
        if rest:
            return f"{name}{rest[0]}{rest[1]}".lower()
        return str(name).lower()

    def modifiers(self, *mods):
        return tuple(mods)

    def relation(self, name, mods):
        return (str(name).lower(), mods)

    def boolean(self, token, mods):
        op = str(token).lower()
        if op == "prox":
            raise Diagnostic(39, "prox")
        if mods:
            raise Diagnostic(46, "/".join(mods))
        return op

    def search(self, index, relation, term):
        name, mods = relation
        return Search(index.lower(), name, term, mods)

    def bare(self, term):
        return Search("cql.serverchoice", "=", term)

    def boolean_query(self, left, op, right):
        return Boolean(op, left, right)

    def sortkey(self, index, mods):
        descending = False
        for mod in mods:
            if mod in ("sort.descending", "descending"):
                descending = True
            elif mod in ("sort.ascending", "ascending"):
                descending = False
            else:
                raise Diagnostic(80, mod, "Unsupported sort modifier")
        return SortKey(index.lower(), descending)

    def sortby(self, _token, *keys):
        return tuple(keys)

    def start(self, root, sort=()):
        return Query(root, sort)


def _leaves(node) -> int:
    if isinstance(node, Boolean):
        return _leaves(node.left) + _leaves(node.right)
    return 1


def parse(text: str, *, max_chars: int) -> Query:
    """Parse a CQL query; raises Diagnostic (10, 12, 13, 38, 39, 46, 80)."""
    if len(text) > max_chars:
        raise Diagnostic(12, str(max_chars))
    if not text.strip():
        raise Diagnostic(27, "", "Empty query")
    try:
        tree = _PARSER.parse(text)
        query = _ToTree().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, Diagnostic):
            raise exc.orig_exc from None
        raise Diagnostic(10, "") from None
    except LarkError as exc:
        position = getattr(exc, "column", "") or getattr(exc, "pos_in_stream", "")
        if _unbalanced(text):
            raise Diagnostic(13, str(position)) from None
        raise Diagnostic(10, str(position)) from None
    if _leaves(query.root) > MAX_LEAVES:
        raise Diagnostic(38, str(MAX_LEAVES - 1))
    return query


def _unbalanced(text: str) -> bool:
    depth = 0
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                return True
    return depth != 0
