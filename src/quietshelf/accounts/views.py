"""Staff sign-in steps and the staff account pages (/staff/accounts/, docs/roles.md).

Sign-in: username and password (StaffLoginView, throttled by django-axes);
an account with a second factor then gives a code, a recovery code or its
security key (verify) before the session is signed in and MFA-verified. An
account without one is signed in but not verified: permissions that reach
personal data or administer stay off until it enrols (My security).

Re-authentication (SEC-AUTH-1): changing the password or second factors
needs the password and (if any) second factor checked within
QUIETSHELF_REAUTH_SECONDS; otherwise the page sends you to /reauth/ first.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quietshelf.accounts import (
    authz,
    mfa,
    passkeys,
    policy,
    roles,
    selectors,
    services,
    sessions,
)
from quietshelf.accounts.decorators import staff_page
from quietshelf.accounts.forms import (
    AlertEmailForm,
    CodeForm,
    ConfirmTOTPForm,
    GrantForm,
    OrgUnitForm,
    PasswordChangeForm,
    ReauthForm,
    RoleForm,
    StaffCreateForm,
    TrainingForm,
)
from quietshelf.accounts.models import StaffTOTPDevice, StaffUser
from quietshelf.core.errors import DomainError

PENDING_SECONDS = 300
TOTP_PENDING = "qs_totp_pending"


# --- helpers ---------------------------------------------------------------------------


def is_own_path(url: str) -> bool:
    """True for a path on this site ('/staff/...'), never another host (SEC-REDIR-1)."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")):
        return False
    return url_has_allowed_host_and_scheme(url, allowed_hosts=None, require_https=False)


class BaseLoginView(auth_views.LoginView):
    """Django's LoginView; `next` may only name one of our own paths."""

    template_name = "staff/login.html"
    redirect_authenticated_user = True

    def get_redirect_url(self):
        url = super().get_redirect_url()
        return url if is_own_path(url) else ""


def _mark_factor_checked(request) -> None:
    now = sessions.now()
    request.session[sessions.MFA] = True
    request.session[sessions.PASSWORD_AT] = now
    request.session[sessions.FACTOR_AT] = now
    request.user.mfa_verified = True
    roles.forget(request.user)


def recently_authenticated(request) -> bool:
    """Password (and second factor, if the account has one) checked within the window."""
    window = settings.QUIETSHELF_REAUTH_SECONDS
    now = sessions.now()
    password_at = request.session.get(sessions.PASSWORD_AT)
    if password_at is None or now - float(password_at) > window:
        return False
    if selectors.has_second_factor(request.user):
        factor_at = request.session.get(sessions.FACTOR_AT)
        if factor_at is None or now - float(factor_at) > window:
            return False
    return True


def reauth_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not recently_authenticated(request):
            target = request.get_full_path() if request.method == "GET" else _security_url()
            return redirect(f"{reverse('staff_accounts:reauth')}?{urlencode({'next': target})}")
        return view(request, *args, **kwargs)

    return staff_page(wrapper)


def manager_required(view):
    """Holds accounts.manage_staff now (an MFA-verified session); else why not."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not authz.has_perm(user, "accounts.manage_staff"):
            if roles.holds_ignoring_gates(user, "accounts.manage_staff"):
                messages.info(
                    request,
                    _("Managing staff needs two-step sign-in in this session."),
                )
                return redirect("staff_accounts:security")
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return staff_page(wrapper)


def _security_url() -> str:
    return reverse("staff_accounts:security")


# --- sign-in ---------------------------------------------------------------------------


class StaffLoginView(BaseLoginView):
    """Step one: username and password (django-axes counts failures)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["idle"] = self.request.GET.get("idle") == "1"
        return context

    def form_valid(self, form):
        user = form.get_user()
        request = self.request
        next_url = self.get_success_url()
        if selectors.has_second_factor(user):
            request.session.cycle_key()
            request.session[sessions.PENDING] = {
                "user": str(user.pk),
                "backend": user.backend,
                "at": sessions.now(),
                "next": next_url,
                "tries": 0,
            }
            return redirect("staff_accounts:verify")
        auth_login(request, user)
        request.session[sessions.PASSWORD_AT] = sessions.now()
        if any(
            roles.needs_mfa(p) and roles.holds_ignoring_gates(user, p) for p in authz.PERMISSIONS
        ):
            messages.info(
                request,
                _(
                    "Patron data and administration open after you set up two-step sign-in "
                    "under My security (/staff/accounts/security/)."
                ),
            )
        return HttpResponseRedirect(next_url)


def _pending_user(request):
    pending = request.session.get(sessions.PENDING)
    if not pending or sessions.now() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(sessions.PENDING, None)
        return None, None
    user = StaffUser.objects.filter(pk=pending["user"], is_active=True).first()
    return pending, user


def _locked_text(locked_until) -> str:
    return _(
        "Too many wrong codes were given for this account: two-step sign-in is locked until "
        "%(time)s. Try again then, or ask an administrator."
    ) % {"time": timezone.localtime(locked_until).strftime("%Y-%m-%d %H:%M")}


def _retry_after(locked_until) -> str:
    return str(max(1, int((locked_until - timezone.now()).total_seconds()) + 1))


def _verify_locked(request, user, guard):
    """The verify page while the account's second factor is locked (SEC-AUTH-1): 429."""
    response = render(
        request,
        "accounts/verify.html",
        {"form": None, "has_keys": False, "locked": _locked_text(guard.locked_until)},
        status=429 if request.method == "POST" else 200,
    )
    response["Retry-After"] = _retry_after(guard.locked_until)
    return response


def verify(request):
    """Step two: a code from the authenticator app, a recovery code or a security key.

    Wrong answers count against the account in the database, across sign-ins
    and devices; at the limit the second factor locks (accounts.services).
    """
    pending, user = _pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect("staff:login")
    guard = selectors.second_factor_lock(user)
    if guard is not None:
        return _verify_locked(request, user, guard)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            kind = services.second_factor_verify(user=user, token=form.cleaned_data["code"])
        except services.SecondFactorLocked:
            kind = None
        if kind:
            return _finish_sign_in(request, user, pending, kind)
        guard = selectors.second_factor_lock(user)
        if guard is not None:  # this wrong code was the last one allowed
            return _verify_locked(request, user, guard)
        pending["tries"] = int(pending.get("tries", 0)) + 1
        if policy.code_tries_spent(pending["tries"]):
            request.session.pop(sessions.PENDING, None)
            messages.error(request, _("Too many wrong codes. Please sign in again."))
            return redirect("staff:login")
        request.session[sessions.PENDING] = pending
        form.add_error("code", _("That code is not right."))
    has_keys = selectors.webauthn_credentials(user).exists()
    return render(request, "accounts/verify.html", {"form": form, "has_keys": has_keys}, status=200)


def _finish_sign_in(request, user, pending, kind: str):
    request.session.pop(sessions.PENDING, None)
    auth_login(request, user, backend=pending["backend"])
    _mark_factor_checked(request)
    if kind == "recovery":
        left = selectors.recovery_codes_left(user)
        messages.warning(
            request,
            _("You used a recovery code; %(left)s left. Make new ones under My security.")
            % {"left": left},
        )
    target = pending.get("next") or reverse("staff:home")
    return HttpResponseRedirect(target if is_own_path(target) else reverse("staff:home"))


@staff_page
def reauth(request):
    """Confirm it is still you: password and (if the account has one) second factor."""
    next_url = request.POST.get("next") or request.GET.get("next") or _security_url()
    if not is_own_path(next_url):
        next_url = _security_url()
    needs_code = selectors.has_second_factor(request.user)
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok = request.user.check_password(form.cleaned_data["password"])
        if ok and needs_code:
            try:
                ok = bool(
                    services.second_factor_verify(
                        user=request.user, token=form.cleaned_data["code"]
                    )
                )
            except services.SecondFactorLocked:
                ok = False
            guard = selectors.second_factor_lock(request.user)
            if guard is not None:
                form.add_error(None, _locked_text(guard.locked_until))
        if ok:
            request.session.pop("qs_reauth_tries", None)
            if needs_code:
                _mark_factor_checked(request)
            else:
                request.session[sessions.PASSWORD_AT] = sessions.now()
            return HttpResponseRedirect(next_url)
        tries = int(request.session.get("qs_reauth_tries", 0)) + 1
        request.session["qs_reauth_tries"] = tries
        if policy.code_tries_spent(tries):
            from django.contrib.auth import logout

            logout(request)
            return redirect("staff:login")
        form.add_error(None, _("The password or the code is not right."))
    return render(
        request,
        "accounts/reauth.html",
        {"form": form, "needs_code": needs_code, "next": next_url},
    )


# --- my security ---------------------------------------------------------------------------


@staff_page
def security(request):
    user = request.user
    return render(
        request,
        "accounts/security.html",
        {
            "devices": selectors.totp_devices(user),
            "keys": selectors.webauthn_credentials(user),
            "codes_left": selectors.recovery_codes_left(user),
            "has_factor": selectors.has_second_factor(user),
            "mfa_verified": getattr(user, "mfa_verified", False),
            "trained": selectors.training_acknowledged(user),
            "grants": selectors.grants_for(user),
            "usable": roles.actor_permissions(user),
            "alert_form": AlertEmailForm(initial={"email": selectors.alert_email(user)}),
        },
    )


@require_POST
@reauth_required
def security_alert_email(request):
    """Where the account holder is told about a locked second factor (SEC-AUTH-1)."""
    form = AlertEmailForm(request.POST)
    if form.is_valid():
        services.second_factor_alert_email_set(actor=request.user, email=form.cleaned_data["email"])
        messages.success(request, _("The address for security alerts is saved."))
    else:
        messages.error(request, " ".join(form.errors.get("email", [])))
    return redirect("staff_accounts:security")


@require_POST
@reauth_required
def totp_start(request):
    device = services.totp_begin(actor=request.user)
    request.session[TOTP_PENDING] = str(device.pk)
    return redirect("staff_accounts:totp_confirm")


@reauth_required
def totp_confirm(request):
    device_id = request.session.get(TOTP_PENDING)
    device = (
        StaffTOTPDevice.objects.filter(
            pk=device_id, user_id=request.user.pk, confirmed=False
        ).first()
        if device_id
        else None
    )
    if device is None:
        return redirect("staff_accounts:security")
    form = ConfirmTOTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_confirm(
                actor=request.user, device_id=device.pk, token=form.cleaned_data["code"]
            )
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            request.session.pop(TOTP_PENDING, None)
            _mark_factor_checked(request)
            messages.success(request, _("Your authenticator app is set up."))
            if codes:
                return render(request, "accounts/recovery_codes.html", {"codes": codes})
            return redirect("staff_accounts:security")
    uri = mfa.totp_uri(device.key, account=str(request.user.username))
    return render(
        request,
        "accounts/totp_confirm.html",
        {
            "form": form,
            "qr_svg": mfa.qr_svg(uri),
            "secret": mfa.secret_base32(device.key),
        },
    )


@require_POST
@reauth_required
def totp_remove(request, device_id):
    services.totp_remove(actor=request.user, device_id=device_id)
    if not selectors.has_second_factor(request.user):
        request.session[sessions.MFA] = False
    sessions.end_all_sessions(request.user, except_key=request.session.session_key)
    messages.success(request, _("The authenticator was removed."))
    return redirect("staff_accounts:security")


@require_POST
@reauth_required
def recovery_regenerate(request):
    if not selectors.has_second_factor(request.user):
        messages.info(request, _("Set up an authenticator app first."))
        return redirect("staff_accounts:security")
    codes = services.recovery_codes_regenerate(actor=request.user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@reauth_required
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                actor=request.user,
                new_password=form.cleaned_data["new_password"],
                keep_session=request.session.session_key,
            )
        except DomainError as exc:
            form.add_error("new_password", exc.message)
        else:
            update_session_auth_hash(request, request.user)
            sessions.remember(request.user, request.session.session_key)
            messages.success(request, _("Your password was changed; other sessions ended."))
            return redirect("staff_accounts:security")
    return render(request, "accounts/password_change.html", {"form": form})


@staff_page
def training(request):
    text = selectors.current_training()
    can_publish = authz.has_perm(request.user, "privacy.manage_policy")
    publish_form = TrainingForm(request.POST if request.POST.get("action") == "publish" else None)
    if request.method == "POST" and request.POST.get("action") == "publish":
        if not can_publish:
            raise PermissionDenied
        if publish_form.is_valid():
            new = services.training_publish(
                actor=request.user,
                title=publish_form.cleaned_data["title"],
                body=publish_form.cleaned_data["body"],
            )
            messages.success(
                request,
                _("Version %(v)s published; everyone acknowledges it again.") % {"v": new.version},
            )
            return redirect("staff_accounts:training")
    elif request.method == "POST":
        try:
            services.training_acknowledge(
                actor=request.user, version=int(request.POST.get("version", "0") or 0)
            )
        except (DomainError, ValueError):
            messages.error(request, _("The training text changed; please read it again."))
        else:
            messages.success(request, _("Thank you: your acknowledgement is recorded."))
            return redirect("staff_accounts:training")
    return render(
        request,
        "accounts/training.html",
        {
            "text": text,
            "acknowledged": selectors.training_acknowledged(request.user),
            "last": selectors.last_acknowledgement(request.user),
            "can_publish": can_publish,
            "publish_form": publish_form,
        },
    )


# --- managing staff (accounts.manage_staff) -------------------------------------------------------


@manager_required
def staff_list(request):
    return render(
        request, "accounts/staff_list.html", {"staff": selectors.staff_list(actor=request.user)}
    )


@manager_required
def staff_create(request):
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            password = services.staff_create(
                actor=request.user,
                username=data["username"],
                role_codes=[data["role"].code] if data["role"] else [],
                org_unit=data["org_unit"],
            )
        except DomainError as exc:
            form.add_error("username", exc.message)
        else:
            return render(
                request,
                "accounts/staff_created.html",
                {"username": data["username"], "password": password},
            )
    return render(request, "accounts/staff_create.html", {"form": form})


@manager_required
def staff_detail(request, user_id):
    user = selectors.staff_get(actor=request.user, user_id=user_id)
    form = GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_grant(
                actor=request.user,
                user=user,
                role=form.cleaned_data["role"],
                org_unit=form.cleaned_data["org_unit"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Role granted."))
            return redirect("staff_accounts:staff_detail", user_id=user.pk)
    return render(
        request,
        "accounts/staff_detail.html",
        {
            "member": user,
            "grants": selectors.grants_for(user),
            "form": form,
            "has_factor": selectors.has_second_factor(user),
            "trained": selectors.training_acknowledged(user),
            "guard": selectors.second_factor_guard(user),
            "locked": selectors.second_factor_lock(user),
        },
    )


@require_POST
@manager_required
def staff_mfa_unlock(request, user_id):
    user = selectors.staff_get(actor=request.user, user_id=user_id)
    services.second_factor_unlock(actor=request.user, user=user)
    messages.success(request, _("Two-step sign-in is unlocked."))
    return redirect("staff_accounts:staff_detail", user_id=user.pk)


@require_POST
@manager_required
def grant_revoke(request, user_id, grant_id):
    user = selectors.staff_get(actor=request.user, user_id=user_id)
    if not user.role_grants.filter(pk=grant_id).exists():
        raise Http404
    services.role_revoke(actor=request.user, grant_id=grant_id)
    messages.success(request, _("Role revoked."))
    return redirect("staff_accounts:staff_detail", user_id=user.pk)


@require_POST
@manager_required
def staff_set_active(request, user_id):
    user = selectors.staff_get(actor=request.user, user_id=user_id)
    active = request.POST.get("active") == "1"
    try:
        services.staff_set_active(actor=request.user, user=user, active=active)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Account enabled.") if active else _("Account disabled; its sessions ended."),
        )
    return redirect("staff_accounts:staff_detail", user_id=user.pk)


@require_POST
@manager_required
def staff_reset_password(request, user_id):
    user = selectors.staff_get(actor=request.user, user_id=user_id)
    password = services.staff_reset_password(actor=request.user, username=user.username)
    return render(
        request,
        "accounts/staff_created.html",
        {"username": user.username, "password": password, "reset": True},
    )


@manager_required
def role_list(request):
    form = RoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                permissions=form.cleaned_data["permissions"],
            )
        except DomainError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, _("Role created."))
            return redirect("staff_accounts:roles")
    rows = [
        (role, [(p, authz.reaches_personal_data(p)) for p in role.permissions])
        for role in selectors.roles()
    ]
    return render(request, "accounts/roles.html", {"rows": rows, "form": form})


@manager_required
def org_tree(request):
    form = OrgUnitForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "from_branches":
        services.org_tree_from_branches(actor=request.user)
        messages.success(request, _("Every catalogue branch now has a place in the tree."))
        return redirect("staff_accounts:org_tree")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.org_unit_create(
                actor=request.user,
                kind=data["kind"],
                code=data["code"],
                name=data["name"],
                parent=data["parent"],
                branch=data["branch"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Unit added."))
            return redirect("staff_accounts:org_tree")
    rows = [("\u2003" * depth, unit) for depth, unit in selectors.org_tree()]
    return render(request, "accounts/org_tree.html", {"tree": rows, "form": form})


# --- security keys (WebAuthn) -----------------------------------------------------------------


def _json_error(message: str, status: int = 400, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


@require_POST
@staff_page
def webauthn_register_options(request):
    if not recently_authenticated(request):
        target = f"{reverse('staff_accounts:reauth')}?{urlencode({'next': _security_url()})}"
        return _json_error(_("Confirm it is you first."), 403, redirect=target)
    return HttpResponse(
        passkeys.registration_options(request, request.user), content_type="application/json"
    )


@require_POST
@staff_page
def webauthn_register_verify(request):
    if not recently_authenticated(request):
        return _json_error(_("Confirm it is you first."), 403)
    try:
        body = passkeys.parse_body(request)
        passkeys.register(request, request.user, body, name=str(body.get("name") or ""))
    except DomainError as exc:
        return _json_error(exc.message)
    _mark_factor_checked(request)
    return JsonResponse({"redirect": _security_url()})


@require_POST
def webauthn_login_options(request):
    pending, user = _pending_user(request)
    if user is None:
        return _json_error(_("Please sign in again."), 403, redirect=reverse("staff:login"))
    guard = selectors.second_factor_lock(user)
    if guard is not None:
        response = _json_error(_locked_text(guard.locked_until), 429)
        response["Retry-After"] = _retry_after(guard.locked_until)
        return response
    return HttpResponse(
        passkeys.authentication_options(request, user), content_type="application/json"
    )


@require_POST
def webauthn_login_verify(request):
    pending, user = _pending_user(request)
    if user is None:
        return _json_error(_("Please sign in again."), 403, redirect=reverse("staff:login"))
    try:
        body = passkeys.parse_body(request)
    except DomainError as exc:
        return _json_error(exc.message)
    accepted = passkeys.authenticate(request, user, body)
    try:
        services.second_factor_assertion(user=user, accepted=accepted)
    except services.SecondFactorLocked:
        accepted = False
    guard = selectors.second_factor_lock(user)
    if guard is not None:
        response = _json_error(_locked_text(guard.locked_until), 429)
        response["Retry-After"] = _retry_after(guard.locked_until)
        return response
    if not accepted:
        pending["tries"] = int(pending.get("tries", 0)) + 1
        request.session[sessions.PENDING] = pending
        return _json_error(_("The security key was not accepted."))
    response = _finish_sign_in(request, user, pending, "webauthn")
    return JsonResponse({"redirect": response["Location"]})


@require_POST
@reauth_required
def webauthn_remove(request, key_id):
    services.webauthn_remove(actor=request.user, credential_id=key_id)
    if not selectors.has_second_factor(request.user):
        request.session[sessions.MFA] = False
    sessions.end_all_sessions(request.user, except_key=request.session.session_key)
    messages.success(request, _("The security key was removed."))
    return redirect("staff_accounts:security")
