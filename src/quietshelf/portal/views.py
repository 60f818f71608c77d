"""Pages of the patron portal under /account/.

Thin: a form shapes the input, one service or selector does the work, domain
errors become form errors. No URL here carries a patron id, card number or
any other personal value (SEC-URL-1): the signed-in patron comes from the
session (request.patron). Every POST is CSRF-protected by Django's
middleware; /account/ responses carry Cache-Control: no-store (core
middleware).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quietshelf.core.csvfile import csv_response
from quietshelf.core.errors import DomainError
from quietshelf.core.netutil import client_ip
from quietshelf.patrons import auth, mydata
from quietshelf.patrons.auth import patron_required
from quietshelf.portal import forms, selectors, services
from quietshelf.portal.errors import (
    PasswordLinkInvalid,
    ReauthenticationFailed,
    SignInLocked,
)
from quietshelf.portal.sso import config as sso_config
from quietshelf.privacyoffice import selectors as office_selectors

LINK_SESSION_KEY = "qs_password_link"


def safe_next(request, url: str | None) -> str:
    """Only a path on this site (SEC-REDIR-1); otherwise My account."""
    url = (url or "").strip()
    if (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return url
    return reverse("account:home")


def _base_url(request) -> str:
    """Where links in e-mail point. In production always QUIETSHELF_SITE_URL, so a forged
    Host header can never send a password link to another site."""
    from django.conf import settings

    if settings.PRODUCTION:
        return settings.QUIETSHELF_SITE_URL
    return request.build_absolute_uri("/").rstrip("/")


# --- sign-in and sign-out ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sign_in(request):
    if request.method == "GET" and request.patron is not None:
        return redirect(safe_next(request, request.GET.get("next")))
    form = forms.SignInForm(request.POST or None, initial={"next": request.GET.get("next", "")})
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patron = services.patron_authenticate(
                identifier=data["identifier"], password=data["password"], ip=client_ip(request)
            )
        except SignInLocked as exc:
            form.add_error(None, exc.message)
            status = 429
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            auth.sign_in(request, patron)
            return redirect(safe_next(request, data.get("next")))
    elif request.method == "POST":
        status = 400
    response = render(
        request,
        "portal/sign_in.html",
        {
            "form": form,
            "registration": services.registration_mode() != "off",
            "sso_providers": sso_config.providers(),
        },
        status=status,
    )
    if status == 429:  # locked: try again when the lock-out window has passed
        response["Retry-After"] = str(services.sign_in_lockout_seconds())
    return response


@require_http_methods(["GET", "POST"])
def sign_out(request):
    if request.method == "POST":
        auth.sign_out(request)
        messages.info(request, _("You are signed out."))
        return redirect("account:sign_in")
    return render(request, "portal/sign_out.html", {})


# --- password links ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def link_request(request):
    form = forms.LinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_link_request(
            identifier=form.cleaned_data["identifier"], base_url=_base_url(request)
        )
        return render(request, "portal/link_sent.html", {})
    return render(request, "portal/link_request.html", {"form": form})


def password_link(request, token: str):
    """The link from the e-mail: remember the token in the session and leave the URL.

    The token then is not in the address bar, the history or a Referer.
    """
    if selectors.password_link_by_token(token=token) is None:
        return render(request, "portal/link_invalid.html", {}, status=404)
    request.session[LINK_SESSION_KEY] = token
    return redirect("account:password_new")


@require_http_methods(["GET", "POST"])
def password_new(request):
    token = request.session.get(LINK_SESSION_KEY, "")
    if selectors.password_link_by_token(token=token) is None:
        request.session.pop(LINK_SESSION_KEY, None)
        return render(request, "portal/link_invalid.html", {}, status=404)
    form = forms.NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_set_by_link(token=token, new_password=form.cleaned_data["password1"])
        except PasswordLinkInvalid:
            request.session.pop(LINK_SESSION_KEY, None)
            return render(request, "portal/link_invalid.html", {}, status=404)
        except DomainError as exc:
            form.add_error("password1", exc.message)
        else:
            auth.sign_out(request)  # a fresh session; sign in with the new password
            messages.success(request, _("Your password is set. You can sign in now."))
            return redirect("account:sign_in")
    return render(request, "portal/password_new.html", {"form": form})


# --- self-registration ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register(request):
    mode = services.registration_mode()
    if mode == "off":
        return render(request, "portal/register_closed.html", {}, status=404)
    from quietshelf.privacy import markdown
    from quietshelf.privacy.services import current_policy

    policy = current_policy()
    form = forms.RegisterForm(
        request.POST or None, initial={"policy_id": policy.pk if policy else None}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.self_register(
                given_name=data["given_name"],
                family_name=data["family_name"],
                email=data["email"],
                phone=data["phone"],
                address=data["address"],
                preferred_language=data["preferred_language"],
                policy_id=data.get("policy_id"),
                acknowledged=data["acknowledge"],
                base_url=_base_url(request),
                ip=client_ip(request),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return render(request, "portal/register_done.html", {"pending": result.pending})
    return render(
        request,
        "portal/register.html",
        {
            "form": form,
            "policy": policy,
            "policy_html": markdown.render(policy.text_markdown) if policy else "",
            "mode": mode,
        },
    )


@require_http_methods(["GET", "POST"])
def policy(request):
    """Acknowledge a material change of the privacy policy (PRV-POL-1)."""
    if request.patron is None:
        return redirect("account:sign_in")
    target = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    from quietshelf.privacy import markdown
    from quietshelf.privacy.models import ActorType
    from quietshelf.privacy.services import pending_material_policy

    pending = pending_material_policy(actor_type=ActorType.PATRON, actor_id=str(request.patron.pk))
    if pending is None:
        request.session.pop(auth.SESSION_POLICY, None)
        return redirect(target)
    if request.method == "POST":
        services.policy_acknowledged(patron=request.patron, policy_id=pending.pk)
        request.session.pop(auth.SESSION_POLICY, None)
        return redirect(target)
    return render(
        request,
        "portal/policy.html",
        {"policy": pending, "html": markdown.render(pending.text_markdown), "next": target},
    )


# --- My account ------------------------------------------------------------------------------


@patron_required
def home(request):
    from django.conf import settings

    from quietshelf.circulation import selectors as circ_selectors
    from quietshelf.privacy.audit import Actor

    patron = request.patron
    summary = circ_selectors.patron_summary(actor=Actor.patron(patron.pk), patron_id=patron.pk)
    return render(
        request,
        "portal/home.html",
        {
            "patron": patron,
            "cards": selectors.own_cards(patron=patron),
            "contacts": selectors.own_contacts(patron=patron),
            "summary": summary,
            "balance": circ_selectors.format_money(
                summary.balance_minor, settings.QUIETSHELF_CURRENCY
            ),
        },
    )


@patron_required
def my_data(request):
    page = office_selectors.my_data_page(
        patron=request.patron, session_key=request.session.session_key
    )
    return render(request, "portal/my_data.html", page)


@patron_required
def my_data_json(request):
    patron = request.patron
    held = mydata.everything_held(patron=patron, session_key=request.session.session_key)
    services.own_data_exported(patron=patron, fmt="json")
    body = json.dumps(mydata.as_json(patron=patron, held=held), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-library-data.json"'
    return response


@patron_required
def my_data_csv(request):
    patron = request.patron
    held = mydata.everything_held(patron=patron, session_key=request.session.session_key)
    services.own_data_exported(patron=patron, fmt="csv")
    return csv_response(None, mydata.as_csv_rows(held), "my-library-data.csv")


def _contact_initial(patron) -> dict:
    initial: dict[str, str] = {}
    for contact in selectors.own_contacts(patron=patron):
        initial.setdefault(contact.kind, str(contact.value))
    return initial


@patron_required
@require_http_methods(["GET", "POST"])
def contact(request):
    patron = request.patron
    form = forms.ContactForm(request.POST or None, initial=_contact_initial(patron))
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changed = services.own_contacts_update(
                patron=patron,
                email=data["email"],
                phone=data["phone"],
                address=data["address"],
                password=data["password"],
                ip=client_ip(request),
            )
        except (ReauthenticationFailed, SignInLocked) as exc:
            status = _password_refused(form, exc)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            if changed:
                auth.mark_reauthenticated(request)
                messages.success(request, _("Your contact details are saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("account:contact")
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "portal/contact.html",
        {"form": form, "contacts": selectors.own_contacts(patron=patron)},
        status=status,
    )


@patron_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    patron = request.patron
    form = forms.ChangePasswordForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            fresh = services.password_change(
                patron=patron,
                old_password=data["old_password"],
                new_password=data["password1"],
                ip=client_ip(request),
            )
        except ReauthenticationFailed as exc:
            status = _password_refused(form, exc, field="old_password")
        except DomainError as exc:
            form.add_error("password1", exc.message)
            status = 400
        else:
            auth.refresh_hash(request, fresh)
            messages.success(request, _("Your password is changed."))
            return redirect("account:home")
    elif request.method == "POST":
        status = 400
    return render(request, "portal/password_change.html", {"form": form}, status=status)


@patron_required
@require_http_methods(["GET", "POST"])
def pin(request):
    """Set the self-check PIN (INT-1): the patron only, with their password."""
    patron = request.patron
    form = forms.PinForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.pin_set(
                patron=patron, pin=data["pin1"], password=data["password"], ip=client_ip(request)
            )
        except (ReauthenticationFailed, SignInLocked) as exc:
            status = _password_refused(form, exc)
        except DomainError as exc:
            form.add_error("pin1", _(exc.message))
            status = 400
        else:
            messages.success(request, _("Your PIN is set. Use it with your card at the machines."))
            return redirect("account:home")
    elif request.method == "POST":
        status = 400
    return _pin_page(request, form=form, remove_form=forms.PinRemoveForm(), status=status)


@patron_required
@require_POST
def pin_remove(request):
    """Remove the self-check PIN (INT-1, PRV-MIN-1): the machines then refuse the card when
    they ask for one. The patron only, with their password."""
    form = forms.PinRemoveForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.pin_remove(
                patron=request.patron, password=form.cleaned_data["password"],
                ip=client_ip(request),
            )  # fmt: skip
        except (ReauthenticationFailed, SignInLocked) as exc:
            status = _password_refused(form, exc)
        else:
            messages.success(request, _("Your PIN is removed. The machines will not take it."))
            return redirect("account:home")
    return _pin_page(request, form=forms.PinForm(), remove_form=form, status=status)


def _password_refused(form, exc, *, field: str = "password") -> int:
    """The current password was wrong (403) or sign-in is locked after too many tries
    (429): said on the form's password field, in the reader's language."""
    form.add_error(field, _(exc.message))
    return 429 if isinstance(exc, SignInLocked) else 403


def _pin_page(request, *, form, remove_form, status: int):
    return render(
        request,
        "portal/pin.html",
        {"form": form, "remove_form": remove_form, "has_pin": bool(request.patron.pin_hash)},
        status=status,
    )


@patron_required
@require_http_methods(["GET", "POST"])
def consents(request):
    patron = request.patron
    if request.method == "POST":
        form = forms.ConsentForm(request.POST)
        if not form.is_valid():
            raise Http404
        try:
            services.consent_set(
                patron=patron,
                scope=form.cleaned_data["scope"],
                give=form.cleaned_data["action"] == "give",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Your choice is saved."))
        return redirect("account:consents")
    return render(request, "portal/consents.html", {"consents": selectors.consents(patron=patron)})


@patron_required
def access_log(request):
    entries = selectors.access_log(patron=request.patron)
    return render(request, "portal/access_log.html", {"entries": entries})


@patron_required
@require_POST
def contact_remove(request, contact_id):
    """Remove one of the patron's own contact points (others' ids: 404 and an audit entry)."""
    contact = selectors.own_contact(patron=request.patron, contact_id=contact_id)
    if contact is None:
        services.denied_access_recorded(patron=request.patron, object_id=contact_id)
        raise Http404
    try:
        services.own_contact_remove(
            patron=request.patron,
            contact_id=contact.pk,
            password=request.POST.get("password", ""),
            ip=client_ip(request),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Removed."))
    return redirect("account:contact")
