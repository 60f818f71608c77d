"""SEC-XSS-1: the HTML allow-list (core.html) and the policy Markdown that uses it."""

from __future__ import annotations

from quietshelf.core.html import clean_html
from quietshelf.privacy import markdown

HOSTILE = (
    '<div hx-post="/staff/accounts/new/" hx-trigger="load" data-hx-vals="{}">a</div>'
    '<p data-hx-get="/x" onclick="alert(1)" style="x">b</p>'
    "<script>alert(1)</script><form action='/staff/'><input name=x></form>"
    '<a href="javascript:alert(1)">c</a><a href="/privacy/">d</a>'
    '<img src=x onerror="alert(1)"><svg onload="alert(1)"></svg>'
)


def test_clean_html_strips_htmx_scripts_forms_and_handlers_sec_xss_1():
    out = clean_html(HOSTILE)
    for bad in (
        "hx-",
        "onclick",
        "onerror",
        "onload",
        "<script",
        "<form",
        "<input",
        "style=",
        "javascript:",
        "<img",
        "<svg",
        "<div",
    ):
        assert bad not in out, bad
    assert '<a href="/privacy/">d</a>' in out and "<p>b</p>" in out


def test_policy_markdown_keeps_its_own_markup_and_no_other_sec_xss_1():
    html = str(markdown.render("# Title\n\n**bold** [x](/privacy/)\n\n- <b hx-get='/x'>a</b>"))
    assert "<h2>Title</h2>" in html and '<a href="/privacy/">x</a>' in html
    assert "<strong>bold</strong>" in html
    assert "<b " not in html and "&lt;b hx-get=" in html  # the typed tag stays text
