"""/staff/desk/: the circulation desk. No barcode in any URL."""

from django.urls import path

from quietshelf.circulation import views as v

app_name = "circulation_desk"

urlpatterns = [
    path("", v.desk, name="desk"),
    path("branch/", v.set_branch, name="branch"),
    path("patron/scan/", v.scan_patron, name="scan_patron"),
    path("patron/", v.patron, name="patron"),
    path("checkout/", v.checkout, name="checkout"),
    path("renew/", v.renew, name="renew"),
    path("pay/", v.pay, name="pay"),
    path("done/", v.done, name="done"),
    path("checkin/", v.checkin, name="checkin"),
    path("holds/", v.holds, name="holds"),
    path("rules/", v.rules, name="rules"),
    path("calendar/", v.calendar, name="calendar"),
]
