"""The public warrant canary (PRV-GOV-2): the statement, its signature and public key.

canary.txt is exactly the signed bytes, canary.sig the raw 64-byte Ed25519
signature and canary.pub the public key in PEM, so anyone can check it with
openssl (docs/privacy-office.md). The page says "stale" in plain words once
the statement's period has lapsed.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpResponse
from django.shortcuts import render

from quietshelf.core.i18n import query_language
from quietshelf.privacyoffice import selectors


@query_language
def canary(request):
    view = selectors.canary_current()
    signature_b64 = ""
    if view.statement is not None:
        signature_b64 = base64.b64encode(bytes.fromhex(view.statement.signature)).decode()
    return render(request, "privacyoffice/canary.html", {"c": view, "signature_b64": signature_b64})


def _statement():
    view = selectors.canary_current()
    if view.statement is None:
        raise Http404
    return view


def canary_text(request):
    return HttpResponse(
        _statement().statement.text.encode(), content_type="text/plain; charset=utf-8"
    )


def canary_signature(request):
    data = bytes.fromhex(_statement().statement.signature)
    return HttpResponse(data, content_type="application/octet-stream")


def canary_public_key(request):
    return HttpResponse(_statement().public_key_pem, content_type="text/plain; charset=utf-8")


@query_language
def transparency(request):
    """PRV-GOV-1: the yearly transparency report, counts only."""
    from quietshelf.privacyoffice.models import GovernmentRequestKind

    years = selectors.transparency_report()
    rows = [
        (y, [(label, y.by_kind.get(code, 0)) for code, label in GovernmentRequestKind.choices])
        for y in years
    ]
    return render(request, "privacyoffice/transparency.html", {"rows": rows})


@query_language
def statement(request):
    """/privacy/: the rights and how to use them, then what is stored (PRV-INV-2, PRV-POL-1).

    Replaces the kernel's bare statement page at the same address; the tables
    are still generated from the inventory and the live settings.
    """
    return render(request, "privacyoffice/privacy_page.html", selectors.privacy_page())
