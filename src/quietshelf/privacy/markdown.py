"""A tiny, safe Markdown renderer for policy texts.

Everything is HTML-escaped first; only headings (#), paragraphs, bullet and
numbered lists, **bold**, *emphasis*, `code` and [links](https://…) with
http(s), mailto or site-relative targets are produced. No raw HTML survives,
and the result passes the allow-list in `core.html` as well (SEC-XSS-1).
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from quietshelf.core.html import clean_html

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SAFE_URL = re.compile(r"^(https?://|mailto:|/(?!/)|#)", re.IGNORECASE)


def _inline(text: str) -> str:
    out = escape(text)

    def link(match):
        label, url = match.group(1), match.group(2)
        if not _SAFE_URL.match(url.replace("&amp;", "&")):
            return label
        return f'<a href="{url}">{label}</a>'

    out = _LINK.sub(link, out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*([^*]+)\*(?!\*)", r"<em>\1</em>", out)
    return out


def render(markdown: str) -> SafeString:
    html: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def flush_paragraph():
        if paragraph:
            html.append("<p>" + _inline(" ".join(paragraph)) + "</p>")
            paragraph.clear()

    def close_list():
        nonlocal list_tag
        if list_tag:
            html.append(f"</{list_tag}>")
            list_tag = None

    for raw in markdown.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        stripped = line.strip()
        heading = re.match(r"^(#{1,4})\s+(.*)$", stripped)
        bullet = re.match(r"^[-*]\s+(.*)$", stripped)
        numbered = re.match(r"^\d+[.)]\s+(.*)$", stripped)
        if not stripped:
            flush_paragraph()
            close_list()
        elif heading:
            flush_paragraph()
            close_list()
            level = len(heading.group(1)) + 1  # the page owns <h1>
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            flush_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                html.append(f"<{tag}>")
                list_tag = tag
            html.append("<li>" + _inline((bullet or numbered).group(1)) + "</li>")
        else:
            close_list()
            paragraph.append(stripped)
    flush_paragraph()
    close_list()
    # every text piece went through escape(); the allow-list is the second wall
    return mark_safe(clean_html("\n".join(html)))  # noqa: S308
