"""The staff menu offers only the pages the signed-in staff member can open (SEC-ACC-1)."""

from __future__ import annotations

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client

pytestmark = pytest.mark.django_db(databases="__all__")

LINKS = {
    "desk": 'href="/staff/desk/"',
    "patrons": 'href="/staff/patrons/"',
    "outbox": 'href="/staff/notices/"',
    "templates": 'href="/staff/notices/templates/"',
    "jobs": 'href="/staff/jobs/"',
    "privacy": 'href="/staff/privacy/"',
}


def _menu(role: str) -> set[str]:
    page = signed_in_client(make_staff(f"menu-{role}", roles=[role])).get("/staff/")
    assert page.status_code == 200
    html = page.content.decode()
    return {name for name, link in LINKS.items() if link in html}


@pytest.mark.parametrize(
    "role, expected",
    [
        ("cataloguer", set()),
        ("circulation-desk", {"desk", "patrons", "outbox"}),
        ("administrator", {"desk", "templates", "jobs"}),
        ("privacy-officer", {"patrons", "privacy"}),
        ("report-reader", set()),
    ],
)
def test_staff_menu_shows_only_usable_pages_sec_acc_1(role, expected):
    assert _menu(role) == expected


def test_every_menu_link_opens_for_its_holder_sec_acc_1():
    """No dead links: each page the menu offers answers 200 for that role."""
    for role in ("circulation-desk", "administrator", "privacy-officer"):
        client = signed_in_client(make_staff(f"open-{role}", roles=[role]))
        html = client.get("/staff/").content.decode()
        for link in LINKS.values():
            if link in html:
                url = link.split('"')[1]
                assert client.get(url).status_code == 200, (role, url)
