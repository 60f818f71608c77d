"""/staff/desk/: the circulation desk. No barcode in any URL."""

from django.urls import path

from quietshelf.circulation import views as v

app_name = "circulation_desk"

urlpatterns = [
    path("", v.desk, name="desk"),
    path("branch/", v.set_branch, name="branch"),
    path("patron/scan/", v.scan_patron, name="scan_patron"),
    path("patron/", v.patron, name="patron"),
    path("patron/open/", v.open_patron, name="open_patron"),
    path("override/", v.override, name="override"),
    path("hold/", v.hold, name="hold"),
    path("slip/hold/<uuid:hold_id>/", v.hold_slip, name="hold_slip"),
    path("slip/transit/<int:item_id>/", v.transit_slip, name="transit_slip"),
    path("checkout/", v.checkout, name="checkout"),
    path("renew/", v.renew, name="renew"),
    path("pay/", v.pay, name="pay"),
    path("pay/receipt/", v.payment_receipt, name="payment_receipt"),
    path("fee/", v.fee_action, name="fee_action"),
    path("lost/", v.declare_lost, name="lost"),
    path("done/", v.done, name="done"),
    path("checkin/", v.checkin, name="checkin"),
    path("holds/", v.holds, name="holds"),
    path("rules/", v.rules, name="rules"),
    path("calendar/", v.calendar, name="calendar"),
]
