"""The template sandbox for notices (SEC-TPL-1).

Django's template language is not a sandbox by itself: its default tags
load libraries, include files and print the context ({% debug %}). This
engine starts from nothing (no default builtins, no loaders) and registers
only the tags and filters listed below, none of which reach files, URLs, the
database or other variables. Templates only ever get plain values (str, int,
bool, date, lists and dicts of them) built for the one notice; Django itself
refuses names that start with an underscore, so there is no way from a
value to its class or module. `check()` runs at save time: a tag outside the
list, a variable the notice does not provide, a syntax error or a render
that fails is a readable error, and the template is not saved.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, TokenType, VariableNode
from django.template.defaulttags import ForNode
from django.utils import translation

from quietshelf.core.errors import InvalidInput

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
MAX_LENGTH = 5000

register = Library()
for _name in _TAG_FUNCS:
    register.tag(_name, defaulttags.register.tags[_name])
for _name in ALLOWED_FILTERS:
    register.filter(_name, defaultfilters.register.filters[_name])


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


class TemplateProblem(InvalidInput):
    code = "invalid_template"


@functools.lru_cache(maxsize=256)
def _compile(text: str):
    return ENGINE.from_string(text)


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


def render(text: str, context: dict, *, language: str) -> str:
    with translation.override(language):
        return _compile(text).render(Context(plain(context), autoescape=False))


def _tags_used(text: str) -> list[str]:
    names = []
    for token in Lexer(text).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.split_contents()
            names.append(bits[0] if bits else "")
    return names


_VAR_ROOT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*")


def _variables(nodelist) -> list[str]:
    """Root names of the {{ variables }} in the template, other than loop variables."""
    loop_names = {"forloop"}
    for node in nodelist.get_nodes_by_type(ForNode):
        loop_names |= set(node.loopvars)
    found = []
    for node in nodelist.get_nodes_by_type(VariableNode):
        name = getattr(node.filter_expression.var, "var", None)
        match = _VAR_ROOT.match(name) if isinstance(name, str) else None
        if match and match.group(0) not in loop_names:
            found.append(match.group(0))
    return found


def check(text: str, *, variables: dict, language: str, field: str = "body") -> str:
    """The rendered sample, or TemplateProblem with a message staff can act on."""
    if len(text) > MAX_LENGTH:
        raise TemplateProblem(
            f"A template has at most {MAX_LENGTH} characters.", details={"field": field}
        )
    for name in _tags_used(text):
        if name not in ALLOWED_TAGS:
            raise TemplateProblem(
                f"The tag {{% {name} %}} is not allowed in notices. Allowed tags: "
                + ", ".join(_TAG_FUNCS)
                + ".",
                details={"field": field},
            )
    try:
        compiled = _compile(text)
    except TemplateSyntaxError as exc:
        message = f"The template has an error: {exc}"
        raise TemplateProblem(message, details={"field": field}) from None
    unknown = sorted(set(_variables(compiled.nodelist)) - set(variables))
    if unknown:
        raise TemplateProblem(
            f"Unknown variable {{{{ {unknown[0]} }}}}. This notice can use: "
            + ", ".join(sorted(variables))
            + ".",
            details={"field": field},
        )
    try:
        return render(text, variables, language=language)
    except Exception as exc:  # noqa: BLE001 - any failure to render is a form error, never a 500
        raise TemplateProblem(
            f"The template does not render: {type(exc).__name__}", details={"field": field}
        ) from None
