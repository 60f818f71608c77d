"""Public catalogue pages: no login, no cookie, no third-party asset (PRV-PUB-1)."""

from __future__ import annotations

from django.shortcuts import render


def search(request):
    return render(request, "opac/search.html", {})
