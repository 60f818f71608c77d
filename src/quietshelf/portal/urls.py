"""The patron's pages under /account/ (docs/patron-portal.md).

No route carries a patron id, card number or any other personal value
(SEC-URL-1): the patron is the one signed in. The password-link token is a
random secret, moved into the session at once (see views.password_link).
"""

from django.urls import path

from quietshelf.portal import circulation_views as circ
from quietshelf.portal import views
from quietshelf.portal.sso import views as sso_views

app_name = "account"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("register/", views.register, name="register"),
    path("policy/", views.policy, name="policy"),
    path("password/forgot/", views.link_request, name="link_request"),
    path("password/link/<str:token>/", views.password_link, name="password_link"),
    path("password/new/", views.password_new, name="password_new"),
    path("password/", views.password_change, name="password_change"),
    path("pin/", views.pin, name="pin"),
    path("pin/remove/", views.pin_remove, name="pin_remove"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/export.json", views.my_data_json, name="my_data_json"),
    path("my-data/export.csv", views.my_data_csv, name="my_data_csv"),
    path("contact/", views.contact, name="contact"),
    path("contact/<uuid:contact_id>/remove/", views.contact_remove, name="contact_remove"),
    path("consents/", views.consents, name="consents"),
    path("access-log/", views.access_log, name="access_log"),
    # self-service circulation: loan and hold ids go in POST bodies, not here
    path("loans/", circ.loans, name="loans"),
    path("loans/renew/", circ.renew, name="renew"),
    path("holds/", circ.holds, name="holds"),
    path("holds/place/<int:record_id>/", circ.hold_place, name="hold_place"),
    path("holds/cancel/", circ.hold_cancel, name="hold_cancel"),
    path("holds/suspend/", circ.hold_suspend, name="hold_suspend"),
    path("fees/", circ.fees, name="fees"),
    path("reading-history/", circ.reading_history, name="reading_history"),
    path("reading-history/export.json", circ.reading_history_json, name="reading_history_json"),
    path("reading-history/export.csv", circ.reading_history_csv, name="reading_history_csv"),
    path("reading-history/delete/", circ.reading_history_delete, name="reading_history_delete"),
    path("sso/<slug:name>/start/", sso_views.start, name="sso_start"),
    path("sso/<slug:name>/callback/", sso_views.callback, name="sso_callback"),
    path("sso/<slug:name>/acs/", sso_views.acs, name="sso_acs"),
    path("sso/<slug:name>/metadata/", sso_views.metadata, name="sso_metadata"),
]
