from django.contrib.auth import views as auth_views
from django.urls import path

from quietshelf.accounts import views as account_views
from quietshelf.staff import retention_views, views

app_name = "staff"

urlpatterns = [
    # Sign-in with the second step and lockout: accounts/views.py (docs/roles.md).
    path("login/", account_views.StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="staff:login"), name="logout"),
    path("", views.home, name="home"),
    path("catalogue/", views.find, name="find"),
    path("catalogue/records/<int:record_id>/", views.record, name="record"),
    path("catalogue/records/<int:record_id>/edit/", views.record_edit, name="record_edit"),
    path("catalogue/records/<int:record_id>/items/add/", views.item_add, name="item_add"),
    path("catalogue/items/<int:item_id>/edit/", views.item_edit, name="item_edit"),
    path("catalogue/upload/", views.upload, name="upload"),
    path("catalogue/branches/", views.branches, name="branches"),
    path("catalogue/item-types/", views.item_types, name="item_types"),
    path("retention/", retention_views.retention_page, name="retention"),
    path("retention/days/", retention_views.retention_days, name="retention_days"),
    path("retention/dry-run/", retention_views.retention_dry_run, name="retention_dry_run"),
    path("retention/holds/", retention_views.legal_hold_place, name="legal_hold_place"),
    path(
        "retention/holds/<uuid:hold_id>/release/",
        retention_views.legal_hold_release,
        name="legal_hold_release",
    ),
]
