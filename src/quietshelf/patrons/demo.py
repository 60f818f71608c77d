"""Fictional demo patrons for `quietshelf demo` (issue 5 item 14).

Names are made up from syllables, not taken from any register; e-mail
addresses use the reserved example.org / example.net domains; phone numbers
are from the Norwegian 4x and 9x ranges but random; addresses are invented.
"""

from __future__ import annotations

import datetime as dt
import random

from quietshelf.catalog.models import Branch
from quietshelf.core import clock
from quietshelf.patrons import services
from quietshelf.patrons.errors import DuplicateBarcode, DuplicateIdentifier
from quietshelf.patrons.models import Patron, PatronGroup

GIVEN = [
    "Alvhild", "Brede", "Cecilie", "Dagny", "Eirik", "Frøydis", "Gaute", "Hallvor", "Ingebjørg",
    "Jostein", "Kjellrun", "Lavrans", "Maiken", "Njål", "Oddbjørg", "Petronella", "Ragnvald",
    "Sølvi", "Torbjørn", "Unni", "Vebjørn", "Åsne", "Amara", "Bastian", "Corin", "Delphine",
    "Elio", "Fenna", "Gideon", "Hester", "Idris", "Juno", "Kasimir", "Linnea", "Marek", "Noor",
]  # fmt: skip
FAMILY = [
    "Aspeli", "Bjørkhaug", "Dalsbotten", "Eidsvåg", "Fjellheim", "Grønlid", "Haugsrud",
    "Istad", "Jervell", "Kvernmo", "Lyngstad", "Myrvoll", "Nordbø", "Orrestad", "Ramsvik",
    "Skogmo", "Tindeland", "Ulvestad", "Vassbotn", "Østerlid", "Ashcombe", "Brackenridge",
    "Calloway-Finch", "Dunmore", "Elsworth", "Fairbrook", "Greywell", "Holloway", "Kestrel",
]  # fmt: skip
STREETS = [
    "Lyngveien", "Bjørkestien", "Fjordgata", "Måkeveien", "Solbakken", "Granlia",
    "Elvebakken", "Tårnveien", "Kirkeåsen", "Stasjonsgata",
]  # fmt: skip
PLACES = ["Eksempelvik", "Prøvestad", "Fiktivdal", "Oppdiktet", "Tenkeby"]
GROUPS = [
    ("student", "Student", 365),
    ("employee", "Employee", 730),
    ("temporary", "Temporary", 90),
    ("walk-in", "Walk-in", 30),
    ("child", "Child", 365),
]


def _groups() -> dict[str, PatronGroup]:
    out = {}
    for code, name, days in GROUPS:
        out[code], _ = PatronGroup.objects.get_or_create(
            code=code, defaults={"name": name, "default_validity_days": days}
        )
    return out


def create_demo_patrons(n: int = 200, *, seed: int = 2026) -> dict:
    """Create `n` fictional patrons; returns counts. Safe to run twice (numbers are skipped)."""
    rng = random.Random(seed + Patron.objects.count())  # noqa: S311 - fictional demo data
    groups = _groups()
    branches = list(Branch.objects.all())
    if not branches:
        branches = [Branch.objects.create(code="MAIN", name="Main library")]
    today = clock.today()
    counts = {"patrons": 0, "minors": 0, "expired": 0, "blocked": 0}
    start = Patron.objects.count()
    i = 0
    while counts["patrons"] < n and i < n * 3:
        i += 1
        number = start + i
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        kind = rng.random()
        group = (
            "child"
            if kind < 0.12
            else rng.choice(["student", "student", "employee", "temporary", "walk-in"])
        )
        dob = None
        if group == "child":
            dob = today - dt.timedelta(days=rng.randint(6 * 365, 16 * 365))
        elif rng.random() < 0.3:
            dob = today - dt.timedelta(days=rng.randint(19 * 365, 80 * 365))
        expired = rng.random() < 0.1
        expiry = today - dt.timedelta(days=rng.randint(1, 200)) if expired else None
        domain = rng.choice(["example.org", "example.net"])
        email = f"{given}.{family}.{number}@{domain}".lower().replace("ø", "o").replace("å", "a")
        email = email.replace("æ", "ae").replace(" ", "")
        try:
            p = services.patron_register(
                actor=None,
                given_name=given,
                family_name=family,
                barcode=f"29{number:010d}",
                identifiers=[("institutional_id", f"DEMO-{number:06d}")]
                if group in ("student", "employee")
                else [],
                group=groups[group],
                home_branch=rng.choice(branches),
                email=email if rng.random() < 0.9 else "",
                phone=f"+47 {rng.choice('49')}{rng.randint(0, 9999999):07d}"
                if rng.random() < 0.7
                else "",
                address=(
                    f"{rng.choice(STREETS)} {rng.randint(1, 120)}\n"
                    f"{rng.randint(1000, 9999)} {rng.choice(PLACES)}"
                )
                if rng.random() < 0.6
                else "",
                date_of_birth=dob,
                preferred_language=rng.choice(["nb", "en", ""]),
                notification_channel=rng.choice(["email", "email", "sms", "post"]),
                expiry_date=expiry,
            )
        except (DuplicateBarcode, DuplicateIdentifier):
            continue
        counts["patrons"] += 1
        counts["minors"] += group == "child"
        counts["expired"] += expired
        if rng.random() < 0.08:
            services.block_add(
                actor=None,
                patron_id=p.pk,
                reason_code=rng.choice(["manual", "lost_card", "address", "admin"]),
                comment="Demo block",
            )
            counts["blocked"] += 1
    return counts


def demo_patrons_to_try(n: int = 3) -> list[tuple[str, str, str]]:
    """A few fictional demo patrons a newcomer can scan at the desk: (card, name, note).

    Active cards first, then one blocked and one expired card to see the warnings."""
    from quietshelf.patrons import policy
    from quietshelf.patrons.models import Block
    from quietshelf.patrons.selectors import patron_by_card_barcode

    today = clock.today()
    ok: list[tuple[str, str, str]] = []
    odd: dict[str, tuple[str, str, str]] = {}
    for number in range(1, 80):
        card = f"29{number:010d}"
        p = patron_by_card_barcode(card)
        if p is None:
            continue
        blocks = policy.effective_blocks(
            p, list(Block.objects.filter(patron=p, lifted_at__isnull=True)), today=today
        )
        if not blocks and p.status == "active":
            if len(ok) < n:
                ok.append((card, p.display_name, "can borrow"))
        elif any(b.code == "expired" for b in blocks):
            odd.setdefault("expired", (card, p.display_name, "card expired"))
        elif blocks:
            odd.setdefault("blocked", (card, p.display_name, "blocked"))
        if len(ok) >= n and len(odd) == 2:
            break
    return ok + list(odd.values())
