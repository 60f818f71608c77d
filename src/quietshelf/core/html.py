"""The project's one HTML allow-list (SEC-XSS-1).

Quietshelf shows almost everything as escaped text. Where it does make HTML
from text staff wrote (the policy texts' small Markdown), the result passes
this allow-list as a second wall: only the few tags and attributes that
Markdown makes survive, so no `hx-*` / `data-hx-*` attribute, script, form,
style or event handler can reach a page, even if the Markdown code had a bug.
Uses nh3 (the Rust ammonia sanitiser), not our own parser.
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset(
    {"p", "h2", "h3", "h4", "h5", "ul", "ol", "li", "strong", "em", "code", "a", "br"}
)
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def clean_html(html: str) -> str:
    """`html` with every tag, attribute and URL scheme outside the allow-list removed."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )
