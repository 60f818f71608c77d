"""Request-wide privacy plumbing.

- Puts the request id where audit.record() finds it.
- Asks a signed-in person to acknowledge a material policy change (PRV-POL-1):
  at sign-in (user_logged_in) the pending version is noted in the session;
  while it is there every page but the acknowledgement page, sign-out and
  static files redirects to /privacy/acknowledge/. No query per request.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from quietshelf.privacy import audit

SESSION_KEY = "qs_policy_ack_pending"


class PrivacyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit.request_id_var.set(getattr(request, "request_id", ""))
        try:
            response = self._ask_for_acknowledgement(request)
            if response is None:
                response = self.get_response(request)
            return response
        finally:
            audit.request_id_var.reset(token)

    def _ask_for_acknowledgement(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = getattr(request, "session", None)
        if session is None or not session.get(SESSION_KEY):
            return None
        ack_url = reverse("privacy:acknowledge")
        if request.path.startswith((ack_url, "/static/", "/staff/logout/", "/api/")):
            return None
        target = request.get_full_path()
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = "/"
        from urllib.parse import urlencode

        return redirect(f"{ack_url}?{urlencode({'next': target})}")


@receiver(user_logged_in, dispatch_uid="quietshelf_privacy_policy_ack")
def note_pending_policy(sender, request, user, **kwargs):
    from quietshelf.privacy.services import pending_material_policy

    if request is None or not hasattr(request, "session"):
        return
    pending = pending_material_policy(
        actor_type=audit.Actor.staff(user).type, actor_id=str(user.pk)
    )
    if pending is not None:
        request.session[SESSION_KEY] = pending.pk
    else:
        request.session.pop(SESSION_KEY, None)
