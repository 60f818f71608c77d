"""Staff pages. Every view requires a signed-in staff member."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "staff/home.html", {})
