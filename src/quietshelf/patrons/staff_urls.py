"""/staff/patrons/: find, view and edit patrons; patron loads. No card number in any URL."""

from django.urls import path

from quietshelf.patrons import staff_views as v

app_name = "staff_patrons"

urlpatterns = [
    path("", v.find, name="find"),
    path("new/", v.register, name="register"),
    path("loads/", v.load, name="load"),
    path("loads/mapping/new/", v.mapping_edit, name="mapping_new"),
    path("loads/mapping/<int:mapping_id>/", v.mapping_edit, name="mapping_edit"),
    path("<uuid:patron_id>/", v.patron, name="patron"),
    path("<uuid:patron_id>/edit/", v.edit, name="edit"),
    path("<uuid:patron_id>/card/", v.replace_card, name="card"),
    path("<uuid:patron_id>/contact/", v.add_contact, name="contact"),
    path(
        "<uuid:patron_id>/contact/<uuid:contact_id>/remove/",
        v.remove_contact,
        name="contact_remove",
    ),
    path("<uuid:patron_id>/identifier/", v.add_identifier, name="identifier"),
    path("<uuid:patron_id>/note/", v.add_note, name="note"),
    path("<uuid:patron_id>/block/", v.add_block, name="block"),
    path("<uuid:patron_id>/block/<uuid:block_id>/lift/", v.lift_block, name="lift"),
    path("<uuid:patron_id>/override/", v.override, name="override"),
    path("<uuid:patron_id>/proxy/", v.add_proxy, name="proxy"),
    path("<uuid:patron_id>/password-link/", v.send_password_link, name="password_link"),
    path("<uuid:patron_id>/approve/", v.approve, name="approve"),
]
