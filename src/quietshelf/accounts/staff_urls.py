from django.urls import path

from quietshelf.accounts import views

app_name = "staff_accounts"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("reauth/", views.reauth, name="reauth"),
    path("security/", views.security, name="security"),
    path("security/totp/start/", views.totp_start, name="totp_start"),
    path("security/totp/confirm/", views.totp_confirm, name="totp_confirm"),
    path("security/totp/<uuid:device_id>/remove/", views.totp_remove, name="totp_remove"),
    path("security/recovery-codes/", views.recovery_regenerate, name="recovery_regenerate"),
    path("security/password/", views.password_change, name="password_change"),
    path("security/alerts/", views.security_alert_email, name="security_alert_email"),
    path("training/", views.training, name="training"),
    path("", views.staff_list, name="staff_list"),
    path("new/", views.staff_create, name="staff_create"),
    path("staff/<uuid:user_id>/", views.staff_detail, name="staff_detail"),
    path(
        "staff/<uuid:user_id>/grants/<int:grant_id>/revoke/",
        views.grant_revoke,
        name="grant_revoke",
    ),
    path("staff/<uuid:user_id>/active/", views.staff_set_active, name="staff_set_active"),
    path(
        "staff/<uuid:user_id>/reset-password/",
        views.staff_reset_password,
        name="staff_reset_password",
    ),
    path(
        "staff/<uuid:user_id>/second-factor/unlock/",
        views.staff_mfa_unlock,
        name="staff_mfa_unlock",
    ),
    path("roles/", views.role_list, name="roles"),
    path("org/", views.org_tree, name="org_tree"),
]

urlpatterns += [
    path(
        "security/keys/options/",
        views.webauthn_register_options,
        name="webauthn_register_options",
    ),
    path("security/keys/add/", views.webauthn_register_verify, name="webauthn_register_verify"),
    path("security/keys/<uuid:key_id>/remove/", views.webauthn_remove, name="webauthn_remove"),
    path("verify/key/options/", views.webauthn_login_options, name="webauthn_login_options"),
    path("verify/key/", views.webauthn_login_verify, name="webauthn_login_verify"),
]
