"""Public privacy pages: the generated statement and policy acknowledgement."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from quietshelf.privacy import markdown, selectors, services
from quietshelf.privacy.audit import Actor
from quietshelf.privacy.middleware import SESSION_KEY


def statement(request):
    return render(request, "privacy/statement.html", {"s": selectors.statement()})


def policy_text(request, version: str):
    policy = selectors.policy_by_version(version)
    if policy is None:
        raise Http404
    return render(
        request,
        "privacy/policy.html",
        {"policy": policy, "html": markdown.render(policy.text_markdown)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def acknowledge(request):
    target = request.POST.get("next") or request.GET.get("next") or "/staff/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/staff/"
    policy = services.pending_material_policy(
        actor_type=Actor.staff(request.user).type, actor_id=str(request.user.pk)
    )
    if policy is None:
        request.session.pop(SESSION_KEY, None)
        return redirect(target)
    if request.method == "POST":
        services.policy_acknowledge(actor=request.user, policy_id=policy.pk)
        request.session.pop(SESSION_KEY, None)
        return redirect(target)
    return render(
        request,
        "privacy/acknowledge.html",
        {"policy": policy, "html": markdown.render(policy.text_markdown), "next": target},
    )
