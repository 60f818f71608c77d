"""The template sandbox for notices (SEC-TPL-1).

Django's template language is not a sandbox by itself: its default tags
load libraries, include files and print the context ({% debug %}). This
engine starts from nothing (no default builtins, no loaders) and registers
only the tags and filters listed below, none of which reach files, URLs, the
database or other variables. Templates only ever get plain values (str, int,
bool, date, lists and dicts of them) built for the one notice.

Reaching things is not the only risk: work is. Loops over string literals,
nested loops, and filters that grow a value would let a short template make
megabytes of text and hang the save request and every delivery run. So:

- `{% for %}` runs only over a list variable the notice provides (`titles`,
  `due_dates`), never over a literal, a string or a filtered value, and
  never inside another loop: the number of iterations is the length of that
  one list;
- a variable is a bare name, a list index (`titles.0`) or a `forloop`
  counter; no attribute or method lookups (`{{ titles.clear }}` would call
  the method);
- `{% with %}` and `{% for %}` may not rebind a notice variable, and
  `{% firstof ... as x %}` is refused;
- while rendering, a meter counts every character put out and every
  character a filter reads or makes; past the limit the render stops with
  `TemplateTooLong` / `TemplateTooCostly` instead of finishing the work.

All of this is checked once when a template is compiled, so a template saved
before these rules (or written into the database by hand) fails at render
time and delivery falls back to the built-in text. The built-in texts
(`defaults.DEFAULTS`) are ours and are not metered: a patron with many titles
still gets all of them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
from dataclasses import dataclass

from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Lexer, Node, TextNode, TokenType, Variable
from django.template.base import VariableNode as _VariableNode
from django.template.defaulttags import (
    CommentNode,
    FirstOfNode,
    ForNode,
    IfNode,
    TemplateLiteral,
    WithNode,
)
from django.utils import translation
from django.utils.translation import gettext as _

from quietshelf.core.errors import InvalidInput
from quietshelf.notices import defaults

ALLOWED_TAGS = (
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "empty",
    "endfor",
    "with",
    "endwith",
    "comment",
    "endcomment",
    "firstof",
)
_TAG_FUNCS = ("if", "for", "with", "comment", "firstof")
ALLOWED_FILTERS = (
    "add",
    "capfirst",
    "date",
    "default",
    "default_if_none",
    "first",
    "join",
    "last",
    "length",
    "lower",
    "pluralize",
    "title",
    "truncatechars",
    "upper",
    "wordwrap",
    "yesno",
)
FORLOOP_ATTRIBUTES = ("counter", "counter0", "revcounter", "revcounter0", "first", "last")

MAX_LENGTH = 5000  # characters of template source
SUBJECT_MAX = 200  # rendered e-mail subject
EMAIL_BODY_MAX = 20_000  # rendered e-mail text
SMS_BODY_MAX = 480  # rendered text message: three SMS segments
MAX_NESTING = 20  # blocks inside blocks, operators inside a condition
WORK_MAX = 1_000_000  # characters filters may read and make (estimated), and output, per render


def limit_for(channel: str, field: str = "body") -> int:
    """How long a library's rendered text may be on `channel` (SEC-TPL-1)."""
    if field == "subject":
        return SUBJECT_MAX
    return SMS_BODY_MAX if channel == "sms" else EMAIL_BODY_MAX


class TemplateProblem(InvalidInput):
    code = "invalid_template"


class TemplateTooLong(TemplateProblem):
    """The rendered text passed its limit; delivery uses the built-in text."""

    code = "template_too_long"


class TemplateTooCostly(TemplateProblem):
    """The template made or read too much text while rendering; delivery uses the built-in."""

    code = "template_too_costly"


class _Meter:
    __slots__ = ("limit", "output", "work")

    def __init__(self, limit: int):
        self.limit = limit
        self.output = 0
        self.work = 0

    def spend(self, size: int) -> None:
        self.work += size
        if self.work > WORK_MAX:
            raise TemplateTooCostly(
                _("The template makes too much text while it renders (more than %(n)s characters).")
                % {"n": f"{WORK_MAX:,}"}
            )

    def emit(self, size: int) -> None:
        self.output += size
        if self.output > self.limit:
            raise TemplateTooLong(
                _("The text is longer than %(n)s characters.") % {"n": f"{self.limit:,}"}
            )
        self.spend(size)


_meter: contextvars.ContextVar[_Meter | None] = contextvars.ContextVar(
    "quietshelf_notice_meter", default=None
)


def _chars(value) -> int:
    """About how many characters `value` stands for (a list: its items, joined)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(len(v) + 1 if isinstance(v, str) else 12 for v in value)
    return 12  # a number, a date


def _join_cost(value, sep=", ", *_rest) -> int:
    count = len(value) if isinstance(value, str | list | tuple) else 1
    return _chars(value) + count * len(str(sep))


# Most filters make at most a few times what they get (upper("ß") is "SS"); these two multiply.
# Charged before the filter runs, so a 4,000-character glue between the 500,000 letters of a
# string, or a date format repeating "r" (31 characters each), is stopped before it is built.
_COST = {
    "join": _join_cost,
    "date": lambda value, fmt=None, *_rest: 40 * max(len(str(fmt or "")), 1),
}


def _metered(name: str, func):
    """A filter that charges the most it could read and make to the render's meter."""
    cost = _COST.get(name)

    @functools.wraps(func)  # keeps the argument check and the filter's flags (expects_localtime)
    def filter_func(value, *args, **kwargs):
        meter = _meter.get()
        if meter is not None:
            if cost is not None:
                meter.spend(cost(value, *args))
            else:
                meter.spend(3 * (_chars(value) + sum(_chars(a) for a in args)))
        return func(value, *args, **kwargs)

    return filter_func


register = Library()
for _name in _TAG_FUNCS:
    register.tag(_name, defaulttags.register.tags[_name])
for _name in ALLOWED_FILTERS:
    register.filter(_name, _metered(_name, defaultfilters.register.filters[_name]))


class _SandboxEngine(Engine):
    default_builtins: list = []


ENGINE = _SandboxEngine(
    builtins=["quietshelf.notices.sandbox"],
    libraries={},
    loaders=[],
    app_dirs=False,
    autoescape=False,  # plain-text e-mail and SMS; an HTML part would need autoescape=True
    string_if_invalid="",
    debug=False,
)


class _MeteredNode(Node):
    """Counts the characters a text, variable or firstof node puts out."""

    child_nodelists = ()

    def __init__(self, inner: Node):
        self.inner = inner
        self.token = getattr(inner, "token", None)
        self.origin = getattr(inner, "origin", None)

    def render(self, context):
        out = self.inner.render_annotated(context)
        meter = _meter.get()
        if meter is not None:
            meter.emit(len(out))
        return out


# names a {% with %} or {% for %} may not rebind: a loop over `titles` must be over the list
_RESERVED = frozenset(
    {"forloop", *defaults.COMMON_VARIABLES, *(n for v in defaults.VARIABLES.values() for n in v)}
)
_INDEX = re.compile(r"^[0-9]{1,4}$")


def _problem(message: str) -> TemplateProblem:
    return TemplateProblem(message)


def _too_deep() -> TemplateProblem:
    return TemplateProblem(
        _("The template is nested too deeply (at most %(n)s levels).") % {"n": MAX_NESTING}
    )


def _show(var: Variable) -> str:
    return "{{ " + str(var.var) + " }}"


class _Inspector:
    """Walks a compiled template once: enforces the rules above, meters the leaves."""

    def __init__(self):
        self.used: list[str] = []  # notice variables read, in order

    def variable(self, var: Variable, scope: frozenset) -> None:
        if var.lookups is None:  # a literal: "text", 3, _("text")
            return
        root, rest = var.lookups[0], var.lookups[1:]
        if root not in scope and root not in _RESERVED:
            # never in any notice's context: check() names it as unknown, render gives ""
            self.used.append(root)
            return
        if root == "forloop" and root in scope:
            if len(rest) > 1 or (rest and rest[0] not in FORLOOP_ATTRIBUTES):
                raise _problem(
                    _("%(var)s: a loop offers only forloop.%(attrs)s.")
                    % {"var": _show(var), "attrs": ", forloop.".join(FORLOOP_ATTRIBUTES)}
                )
        elif any(not _INDEX.match(part) for part in rest):
            raise _problem(
                _(
                    "%(var)s: notices do not look up attributes; use the value itself, "
                    "a filter such as date, or a position such as titles.0."
                )
                % {"var": _show(var)}
            )
        if root not in scope:
            self.used.append(root)

    def expression(self, expr: FilterExpression, scope: frozenset) -> None:
        if isinstance(expr.var, Variable):
            self.variable(expr.var, scope)
        for _func, args in expr.filters:
            for lookup, arg in args:
                if lookup:
                    self.variable(arg, scope)

    def condition(self, cond, scope: frozenset, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise _too_deep()
        if isinstance(cond, TemplateLiteral):
            self.expression(cond.value, scope)
            return
        for part in (getattr(cond, "first", None), getattr(cond, "second", None)):
            if part is not None:
                self.condition(part, scope, depth + 1)

    def bind(self, names, scope: frozenset) -> frozenset:
        for name in names:
            if name in _RESERVED:
                raise _problem(
                    _("“%(name)s” is a notice variable; give the new name another one.")
                    % {"name": name}
                )
        return scope | frozenset(names)

    def loop(self, node: ForNode, scope: frozenset, in_loop: bool, depth: int) -> None:
        lists = ", ".join(defaults.LIST_VARIABLES)
        if in_loop:
            raise _problem(_("A loop inside another loop is not allowed in notices."))
        seq = node.sequence
        var = seq.var
        if (
            seq.filters
            or not isinstance(var, Variable)
            or var.lookups is None
            or len(var.lookups) != 1
            or var.lookups[0] not in defaults.LIST_VARIABLES
        ):
            raise _problem(
                _(
                    "{%% for %%} can only go through a list the notice provides (%(lists)s), "
                    "not through “%(what)s”."
                )
                % {"lists": lists, "what": seq.token}
            )
        self.used.append(var.lookups[0])
        inner = self.bind(node.loopvars, scope) | {"forloop"}
        self.walk(node.nodelist_loop, inner, True, depth + 1)
        self.walk(node.nodelist_empty, scope, in_loop, depth + 1)

    def walk(self, nodelist, scope: frozenset, in_loop: bool = False, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise _too_deep()
        for index, node in enumerate(nodelist):
            if isinstance(node, TextNode | _VariableNode | FirstOfNode):
                if isinstance(node, _VariableNode):
                    self.expression(node.filter_expression, scope)
                elif isinstance(node, FirstOfNode):
                    if node.asvar:
                        raise _problem(
                            _("%(tag)s is not allowed in notices.")
                            % {"tag": "{% firstof … as name %}"}
                        )
                    for expr in node.vars:
                        self.expression(expr, scope)
                nodelist[index] = _MeteredNode(node)
            elif isinstance(node, IfNode):
                for cond, branch in node.conditions_nodelists:
                    if cond is not None:
                        self.condition(cond, scope)
                    self.walk(branch, scope, in_loop, depth + 1)
            elif isinstance(node, ForNode):
                self.loop(node, scope, in_loop, depth)
            elif isinstance(node, WithNode):
                for expr in node.extra_context.values():
                    self.expression(expr, scope)
                inner = self.bind(node.extra_context, scope)
                self.walk(node.nodelist, inner, in_loop, depth + 1)
            elif isinstance(node, CommentNode):
                continue
            else:  # the engine knows no other tag; refuse rather than trust a surprise
                raise _problem(_("This template uses something notices do not allow."))


@dataclass(frozen=True)
class Compiled:
    template: object
    variables: tuple[str, ...]  # notice variables the template reads


@functools.lru_cache(maxsize=256)
def _compile(text: str) -> Compiled:
    """Parse and inspect once; a template breaking a rule raises here, at save and at render."""
    for name in _tags_used(text):
        if name not in ALLOWED_TAGS:
            raise _problem(
                _("The tag {%% %(name)s %%} is not allowed in notices. Allowed tags: %(tags)s.")
                % {"name": name, "tags": ", ".join(_TAG_FUNCS)}
            )
    try:
        template = ENGINE.from_string(text)
    except RecursionError:  # e.g. hundreds of nested blocks or "not not not …"
        raise _too_deep() from None
    except TemplateSyntaxError as exc:
        message = str(exc)
        match = re.match(r"Invalid filter: '([^']*)'", message)
        if match:
            message = _(
                "The filter |%(name)s is not allowed in notices. Allowed filters: %(f)s."
            ) % {
                "name": match.group(1),
                "f": ", ".join(ALLOWED_FILTERS),
            }
        else:
            message = _("The template has an error: %(error)s") % {"error": message}
        raise _problem(message) from None
    inspector = _Inspector()
    inspector.walk(template.nodelist, frozenset())
    return Compiled(template=template, variables=tuple(dict.fromkeys(inspector.used)))


_SIMPLE = (str, int, float, bool, dt.date, type(None))


def plain(value):
    """Copy `value` keeping only plain data: no model instance ever reaches a template."""
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    raise TypeError(f"a notice template gets plain values only, not {type(value).__name__}")


# Our own texts: reviewed code, not metered (a long list of titles is still sent in full).
_BUILT_IN = frozenset(text for pair in defaults.DEFAULTS.values() for text in pair)


def render(text: str, context: dict, *, language: str, limit: int | None = None) -> str:
    """Render `text` in the sandbox, as plain text (a `str`, never Django's `SafeString`).

    A library's text may put out at most `limit` characters (default: an
    e-mail text, `EMAIL_BODY_MAX`; see `limit_for`); beyond it, or beyond
    `WORK_MAX` characters of filter work, `TemplateTooLong` /
    `TemplateTooCostly` is raised mid-render, so the caller sends the
    built-in text and logs the error's `code` (never the text: it holds
    personal data).
    """
    compiled = _compile(text)
    values = plain(context)
    for name in defaults.LIST_VARIABLES:
        if not isinstance(values.get(name, []), list):
            raise TemplateProblem(f"{name} must be a list")
    meter = None if text in _BUILT_IN else _Meter(limit or EMAIL_BODY_MAX)
    token = _meter.set(meter)
    try:
        with translation.override(language):
            out = compiled.template.render(Context(values, autoescape=False))
    finally:
        _meter.reset(token)
    # Django marks what a template makes as safe HTML. This is plain text (e-mail, SMS,
    # receipts), so it must not stay marked: a page showing it (the preview) escapes it like
    # any other text, and markup typed into a template can never run there (SEC-XSS-1).
    # `+ ""` on a SafeString gives a plain str.
    return out + ""


def _tags_used(text: str) -> list[str]:
    names = []
    for token in Lexer(text).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.split_contents()
            names.append(bits[0] if bits else "")
    return names


def check(
    text: str, *, variables: dict, language: str, field: str = "body", limit: int | None = None
) -> str:
    """The rendered sample, or TemplateProblem with a message staff can act on.

    `limit`: the longest rendered text allowed (default by field: a subject
    `SUBJECT_MAX`, a text `EMAIL_BODY_MAX`; pass `limit_for("sms")` for text
    messages).
    """
    details = {"field": field}
    if limit is None:
        limit = SUBJECT_MAX if field == "subject" else EMAIL_BODY_MAX
    if len(text) > MAX_LENGTH:
        raise TemplateProblem(
            _("A template has at most %(n)s characters.") % {"n": f"{MAX_LENGTH:,}"},
            details=details,
        )
    try:
        compiled = _compile(text)
    except TemplateProblem as exc:
        raise TemplateProblem(exc.message, details=details) from None
    unknown = [name for name in compiled.variables if name not in variables]
    if unknown:
        raise TemplateProblem(
            _("Unknown variable %(var)s. This notice can use: %(names)s.")
            % {"var": "{{ " + unknown[0] + " }}", "names": ", ".join(sorted(variables))},
            details=details,
        )
    try:
        rendered = render(text, variables, language=language, limit=limit)
    except TemplateTooLong:
        if limit == SMS_BODY_MAX:
            message = _(
                "With the sample values the text is longer than %(n)s characters "
                "(three text messages). Make it shorter."
            )
        else:
            message = _(
                "With the sample values the text is longer than %(n)s characters. Make it shorter."
            )
        raise TemplateProblem(message % {"n": f"{limit:,}"}, details=details) from None
    except TemplateProblem as exc:
        raise TemplateProblem(exc.message, details=details) from None
    except Exception as exc:  # noqa: BLE001 - any failure to render is a form error, never a 500
        raise TemplateProblem(
            _("The template does not render: %(error)s") % {"error": type(exc).__name__},
            details=details,
        ) from None
    if len(rendered) > limit:  # the built-in texts are not metered; hold them to it too
        raise TemplateProblem(
            _("The text is longer than %(n)s characters.") % {"n": f"{limit:,}"},
            details=details,
        )
    return rendered
