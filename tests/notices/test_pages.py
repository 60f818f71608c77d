"""Staff outbox and template pages, the patron's notices page (CIR-5, SEC-TPL-1, PRV-CON-1)."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.notices import services
from quietshelf.notices.models import Notice, NoticeTemplate
from quietshelf.privacy.services import give_consent
from tests.notices.conftest import TODAY

PASSWORD = "quiet-lantern-orchard-7"


@pytest.fixture
def undeliverable(reader, loan):
    p = reader(email="")
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    return Notice.objects.get(patron=p)


def test_outbox_needs_sign_in_and_the_permission_cir5(client, circ):
    assert client.get("/staff/notices/").status_code == 302
    cataloguer = make_staff("cat-notices", roles=["cataloguer"])
    assert signed_in_client(cataloguer).get("/staff/notices/").status_code == 403
    assert signed_in_client(cataloguer).get("/staff/notices/templates/").status_code == 403


def test_outbox_lists_failures_by_patron_link_never_the_address_cir5(
    smtp, reader, loan, undeliverable
):
    refused = reader(email="refused.reader@fjordvik.example")
    loan(refused, TODAY + dt.timedelta(days=2))
    services.queue_due_soon_notices(today=TODAY)
    smtp.mode = "refuse"
    services.deliver_queued_notices()
    desk = make_staff("desk-notices", roles=["circulation-desk"])
    page = signed_in_client(desk).get("/staff/notices/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-count="failed">1<' in html and 'data-count="undeliverable">1<' in html
    assert f"/staff/patrons/{undeliverable.patron_id}/" in html
    assert f"/staff/patrons/{refused.pk}/" in html
    assert "SMTP 550" in html and "no usable e-mail address" in html
    assert "refused.reader" not in html and "@fjordvik.example" not in html


def test_retry_button_puts_the_notice_back_in_the_queue_cir5(undeliverable):
    desk = make_staff("desk-retry", roles=["circulation-desk"])
    client = signed_in_client(desk)
    response = client.post(f"/staff/notices/{undeliverable.pk}/retry/")
    assert response.status_code == 302
    undeliverable.refresh_from_db()
    assert (undeliverable.state, undeliverable.attempts) == ("queued", 0)
    # retrying what is not failed is a message, not an error page
    response = client.post(f"/staff/notices/{undeliverable.pk}/retry/", follow=True)
    assert response.status_code == 200
    assert b"Only failed or undeliverable notices" in response.content


def test_retry_needs_the_permission_cir5(undeliverable):
    cataloguer = make_staff("cat-retry", roles=["cataloguer"])
    response = signed_in_client(cataloguer).post(f"/staff/notices/{undeliverable.pk}/retry/")
    assert response.status_code == 403
    undeliverable.refresh_from_db()
    assert undeliverable.state == "undeliverable"


def test_template_editor_shows_a_readable_error_and_saves_nothing_sec_tpl_1(circ):
    admin = make_staff("admin-tpl", roles=["administrator"])
    client = signed_in_client(admin)
    url = "/staff/notices/templates/overdue/nb/email/"
    assert client.get("/staff/notices/templates/").status_code == 200
    page = client.get(url)
    assert page.status_code == 200 and "Siste påminnelse" in page.content.decode()
    bad = client.post(url, {"subject": "Purring", "body": "{% load i18n %}Hei", "action": "save"})
    assert bad.status_code == 200
    assert "is not allowed in notices" in bad.content.decode()
    bad = client.post(url, {"subject": "Purring", "body": "{% if count %}Hei", "action": "save"})
    assert "The template has an error" in bad.content.decode()
    assert not NoticeTemplate.objects.exists()
    preview = client.post(
        url, {"subject": "Purring", "body": "Du har {{ count }} lån.", "action": "preview"}
    )
    assert "Du har 2 lån." in preview.content.decode()
    assert not NoticeTemplate.objects.exists()
    saved = client.post(
        url, {"subject": "Purring", "body": "Du har {{ count }} lån.", "action": "save"}
    )
    assert saved.status_code == 302
    assert NoticeTemplate.objects.get().body == "Du har {{ count }} lån."
    client.post(url, {"action": "reset"})
    assert not NoticeTemplate.objects.exists()


def test_template_editor_needs_manage_templates_sec_tpl_1(circ):
    desk = make_staff("desk-tpl", roles=["circulation-desk"])
    client = signed_in_client(desk)
    assert client.get("/staff/notices/templates/").status_code == 403
    response = client.post(
        "/staff/notices/templates/fee/en/sms/", {"body": "Pay up", "action": "save"}
    )
    assert response.status_code == 403
    assert not NoticeTemplate.objects.exists()


def _signed_in_patron(client, reader, **kw):
    p = reader(password=PASSWORD, **kw)
    response = client.post(
        "/account/sign-in/", {"identifier": p.active_card.barcode, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content[:300]
    return p


def test_patron_without_consent_is_told_nothing_is_kept_prv_not_1(client, reader, loan):
    p = _signed_in_patron(client, reader)
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    page = client.get("/account/notices/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "We do not keep the notices we send you" in html
    assert 'href="/account/consents/"' in html
    assert "Items due on" not in html


def test_patron_with_consent_sees_their_own_kept_notices_only_prv_con_1(client, reader, loan):
    p = _signed_in_patron(client, reader)
    give_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    other = reader()
    give_consent(subject_id=other.subject_id, scope=services.HISTORY_SCOPE)
    loan(p, TODAY + dt.timedelta(days=3))
    loan(other, TODAY + dt.timedelta(days=1))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    html = client.get("/account/notices/").content.decode()
    assert "Items due on 5 March" in html
    assert "Items due on 3 March" not in html
    assert "Due soon" in html and "E-mail" in html


def test_notices_page_needs_a_signed_in_patron_prv_con_1(client, circ):
    response = client.get("/account/notices/")
    assert response.status_code == 302
    assert "/account/sign-in/" in response["Location"]


def test_template_preview_shows_markup_as_escaped_text_in_an_inert_pane_sec_xss_1(circ):
    admin = make_staff("admin-tpl-xss", roles=["administrator"])
    client = signed_in_client(admin)
    url = "/staff/notices/templates/hold_ready/en/email/"
    body = '<div hx-post="/staff/accounts/new/" hx-trigger="load">Ready</div>'
    r = client.post(url, {"subject": "Ready", "body": body, "action": "preview"})
    html = r.content.decode()
    assert r.status_code == 200
    assert '<div hx-post="/staff/accounts/new/"' not in html
    assert "&lt;div hx-post=&quot;/staff/accounts/new/&quot;" in html
    assert 'id="preview" hx-disable' in html
