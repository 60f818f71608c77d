"""The desk knows who and where (CIR-2): the staff member and the desk branch in the header,
the desk branch defaulting to the staff member's own branch."""

from __future__ import annotations

from quietshelf.accounts import services as account_services
from quietshelf.accounts.models import OrgUnit
from quietshelf.accounts.testing import make_staff, signed_in_client


def test_desk_defaults_to_the_staff_members_own_branch_and_says_so_cir2(circ):
    account_services.org_tree_from_branches(actor=None)
    south_unit = OrgUnit.objects.get(branch=circ["south"])
    staff = make_staff("south-desk", roles=["circulation-desk"], org_unit=south_unit)
    desk = signed_in_client(staff)
    html = desk.get("/staff/desk/").content.decode()
    assert f'<option value="{circ["south"].pk}" selected>' in html
    assert "Signed in as south-desk" in html and "desk: South" in html
    nb = desk.get("/staff/desk/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Pålogget som south-desk" in nb and "skranke: South" in nb


def test_staff_with_a_library_wide_grant_gets_the_first_branch_cir2(circ):
    desk = signed_in_client(make_staff("root-desk", roles=["circulation-desk"]))
    html = desk.get("/staff/desk/").content.decode()
    assert f'<option value="{circ["north"].pk}" selected>' in html
    assert "desk: North" in html


def test_the_staff_menu_is_fully_translated_into_norwegian(circ):
    """Issue 17 item 13: every menu entry a desk supervisor sees, in Bokmål."""
    desk = signed_in_client(make_staff("nb-menu", roles=["desk-supervisor"]))
    html = desk.get("/staff/desk/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    nav = html.split('<nav aria-label="Nettsted">')[1].split("</nav>")[0]
    for english in ("Staff home", "Circulation desk", "Cataloguing", "Patrons", "Notices",
                    "My security", "Public catalogue", "Sign out", "Signed in as"):  # fmt: skip
        assert english not in nav, english
    for norwegian in ("Utlånsskranke", "Katalogisering", "Lånere", "Min sikkerhet", "Logg ut"):
        assert norwegian in nav, norwegian
