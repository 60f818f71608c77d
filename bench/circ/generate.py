"""Restore a realistic circulation state for the HTTP benchmark (PERF-CIRC-1/2/3).

Into the database named by DATABASE_URL (a throw-away one: bench/circ/run.py
makes and drops it), with fictional titles and people:

- 3 branches, 2 item types, the demo's loan rules and calendars (loan period 28
  days, at most 40 loans, fines) and an "institution" group without limits;
- records with MARC of a realistic size (~2 KB of JSON), ~15 % with two copies;
- patrons registered through the patron service (names and card numbers
  encrypted under their own keys, blind-indexed card numbers);
- 5,000+ open loans (bulk inserted, none overdue, at most 25 per patron) and
  3,000+ waiting title-level holds on titles that are out, so check-ins trap
  copies for holds as they would at a real desk;
- one patron with 1,000 open loans and 50 holds and one with none (PERF-CIRC-3);
- a circulation-desk staff account with an authenticator and an API token
  that may reach patron data (what a self-check machine is given).

The search index is built with the catalogue's own code, then the tables are
analysed. Writes into --out: patrons.csv, items_available.csv,
items_on_loan.csv (barcode,branch_id), perf_circ3.csv (reserved items),
meta.json and token (mode 0600).

    DATABASE_URL=postgres://... python bench/circ/generate.py --out /tmp/circ
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WORDS = (
    "river winter harbour lantern orchard glacier meadow quiet island shadow letters "
    "northern garden salt morning bridge forest violin thunder mirror silver keeper "
    "tide atlas copper fjord raven summer kitchen cabin lighthouse paper clock ember "
    "stone journey hollow marsh candle secret cedar echo falcon harvest moss willow"
).split()
GIVEN = (
    "Astrid Bjørn Ingrid Leif Sigrid Tor Hedda Eirik Maren Nils Solveig Odd Liv Arne Kari".split()
)
FAMILY = "Fjellheim Strandvik Lunde Haugland Bakketun Vestby Nordli Myrvang Solberg Aasen".split()


def _marc(rng: random.Random, n: int, title: str, author: str, year: int) -> dict:
    def sub(**kw):
        return [{k: v} for k, v in kw.items()]

    summary = " ".join(rng.choice(WORDS) for _ in range(45)).capitalize() + "."
    fields = [
        {"001": f"bench{n:08d}"},
        {"003": "QS-BENCH"},
        {"008": f"{year % 100:02d}0101s{year}    no            000 1 nor d"},
        {"020": {"ind1": " ", "ind2": " ", "subfields": sub(a=f"97882{n:08d}")}},
        {"100": {"ind1": "1", "ind2": " ", "subfields": sub(a=author, e="author")}},
        {"245": {"ind1": "1", "ind2": "0", "subfields": sub(a=title, c=f"by {author}")}},
        {"250": {"ind1": " ", "ind2": " ", "subfields": sub(a=f"{1 + n % 4}. edition")}},
        {"264": {"ind1": " ", "ind2": "1", "subfields": sub(a="Oslo", b="Fictive Press", c=year)}},
        {"300": {"ind1": " ", "ind2": " ", "subfields": sub(a=f"{100 + n % 400} pages")}},
        {"490": {"ind1": "0", "ind2": " ", "subfields": sub(a=f"{rng.choice(WORDS)} series")}},
        {"520": {"ind1": " ", "ind2": " ", "subfields": sub(a=summary)}},
    ]
    for _ in range(3):
        fields.append(
            {"650": {"ind1": " ", "ind2": "0", "subfields": sub(a=rng.choice(WORDS).title())}}
        )
    return {"leader": "00000nam a2200000 i 4500", "fields": fields}


def generate(out: Path, *, patrons: int, loans: int, holds: int, available: int, seed: int):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from quietshelf.accounts.testing import add_totp, make_staff
    from quietshelf.api.services import api_token_create
    from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
    from quietshelf.catalog.search import index_records
    from quietshelf.circulation import services
    from quietshelf.circulation.demo import _setup_rules_and_calendars
    from quietshelf.circulation.models import Hold, Loan, LoanRule
    from quietshelf.patrons import services as patron_services
    from quietshelf.patrons.models import PatronGroup

    rng = random.Random(seed)  # noqa: S311 - fictional bench data
    t0 = time.monotonic()
    call_command("migrate", verbosity=0, skip_checks=True)
    call_command("migrate", database="keystore", verbosity=0, skip_checks=True)

    branches = [
        Branch.objects.get_or_create(code=c, defaults={"name": n})[0]
        for c, n in (("MAIN", "Main library"), ("EAST", "East branch"), ("WEST", "West branch"))
    ]
    book = ItemType.objects.get_or_create(code="BOOK", defaults={"name": "Book"})[0]
    dvd = ItemType.objects.get_or_create(code="DVD", defaults={"name": "Film"})[0]
    adult = PatronGroup.objects.get_or_create(
        code="adult", defaults={"name": "Adult", "default_validity_days": 3650}
    )[0]
    child = PatronGroup.objects.get_or_create(
        code="child", defaults={"name": "Child", "default_validity_days": 3650}
    )[0]
    inst = PatronGroup.objects.get_or_create(
        code="institution", defaults={"name": "Institution", "default_validity_days": 3650}
    )[0]
    _setup_rules_and_calendars()
    services.rule_save(
        actor=None, patron_group_id=inst.pk, loan_period=56, max_loans=None, hold_limit=None
    )
    rules = {r.patron_group_id: r for r in LoanRule.objects.all()}
    print(f"[{time.monotonic() - t0:5.0f}s] branches, types, groups, rules", flush=True)

    busy_loans, busy_holds, reserved = 1000, 50, 400
    n_items = loans + available + busy_loans + reserved
    n_records = int(n_items / 1.15)
    now = timezone.now()
    recs = []
    for n in range(n_records):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))).capitalize()
        author = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        year = rng.randint(1950, 2026)
        recs.append(
            BibRecord(
                control_number=f"bench{n:08d}",
                control_source="QS-BENCH",
                leader="00000nam a2200000 i 4500",
                marc_json=_marc(rng, n, title, author, year),
                title=title,
                responsibility=f"by {author}",
                sort_title=title.lower(),
                contributors=[{"name": author, "role": "author"}],
                subjects=[rng.choice(WORDS).title() for _ in range(3)],
                isbns=[f"97882{n:08d}"],
                publisher="Fictive Press",
                publication_place="Oslo",
                year=year,
                language="nor",
            )
        )
    with transaction.atomic():
        records = BibRecord.objects.bulk_create(recs, batch_size=2000)
    record_ids = [r.pk for r in records]
    owners = record_ids + rng.sample(record_ids, n_items - len(record_ids))
    rng.shuffle(owners)
    with transaction.atomic():
        items = Item.objects.bulk_create(
            [
                Item(
                    record_id=rid,
                    barcode=f"31{i:08d}",
                    call_number=f"{rng.randint(100, 999)}.{rng.randint(1, 99)}",
                    branch=rng.choice(branches),
                    item_type=book if rng.random() < 0.85 else dvd,
                    price_minor=rng.randint(2000, 60000),
                )
                for i, rid in enumerate(owners)
            ],
            batch_size=2000,
        )
    print(
        f"[{time.monotonic() - t0:5.0f}s] {len(records):,} records, {len(items):,} items",
        flush=True,
    )

    people = []
    # each registration is its own durable transaction (the service's, #14 item 7)
    for n in range(patrons):
        people.append(
            patron_services.patron_register(
                actor=None,
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                barcode=f"23{n:08d}",
                group=child if rng.random() < 0.2 else adult,
                home_branch=rng.choice(branches).code,
            )
        )
    busy = patron_services.patron_register(
        actor=None, given_name="Mange", family_name="Lånsen", barcode="2399999998", group=inst
    )
    patron_services.patron_register(
        actor=None, given_name="Una", family_name="Tomsen", barcode="2399999999", group=inst
    )
    print(f"[{time.monotonic() - t0:5.0f}s] {len(people):,} patrons registered", flush=True)

    # records whose copies all go out get the holds (their check-ins trap copies)
    pool = list(items)
    rng.shuffle(pool)
    reserved_items = pool[:reserved]
    busy_items = pool[reserved : reserved + busy_loans]
    loan_items = pool[reserved + busy_loans : reserved + busy_loans + loans]
    free_items = pool[reserved + busy_loans + loans :]
    weights = [rng.paretovariate(1.5) for _ in people]
    per_patron: dict = {}
    loan_rows = []

    def lend(item, patron):
        start = now - dt.timedelta(days=rng.uniform(0, 20), hours=rng.uniform(0, 8))
        rule = rules.get(patron.group_id) or rules[None]
        return Loan(
            item=item,
            patron=patron,
            patron_group_id=patron.group_id,
            branch=item.branch,
            rule=rule,
            checked_out_at=start,
            due_at=start + dt.timedelta(days=rule.loan_period),
        )

    # well under the rules' limits (40 loans, 15 for children), so that the
    # random check-outs of the run are not refused for the limit
    cap = {adult.pk: 20, child.pk: 5}
    for item in loan_items:
        while True:
            p = rng.choices(people, weights)[0]
            if per_patron.get(p.pk, 0) < cap[p.group_id]:
                break
        per_patron[p.pk] = per_patron.get(p.pk, 0) + 1
        loan_rows.append(lend(item, p))
    loan_rows += [lend(item, busy) for item in busy_items]
    with transaction.atomic():
        Loan.objects.bulk_create(loan_rows, batch_size=2000)
        out_ids = [i.pk for i in loan_items + busy_items]
        for start in range(0, len(out_ids), 5000):
            Item.objects.filter(pk__in=out_ids[start : start + 5000]).update(status="on_loan")
    borrower = {loan.item.record_id: loan.patron_id for loan in loan_rows}
    out_records = sorted({i.record_id for i in loan_items} - {i.record_id for i in free_items})
    rng.shuffle(out_records)
    hold_rows, taken = [], set()
    for rid in out_records:
        if len(hold_rows) >= holds - busy_holds:
            break
        for _ in range(rng.choice((1, 1, 2, 3))):
            p = rng.choice(people)
            if (p.pk, rid) in taken or borrower.get(rid) == p.pk:
                continue
            taken.add((p.pk, rid))
            hold_rows.append(
                Hold(
                    record_id=rid,
                    patron=p,
                    patron_group_id=p.group_id,
                    pickup_branch_id=p.home_branch_id or branches[0].pk,
                    placed_at=now - dt.timedelta(days=rng.uniform(0, 30)),
                )
            )
    free_records = [i.record_id for i in free_items[: busy_holds * 3]]
    for rid in rng.sample(free_records, busy_holds):
        hold_rows.append(
            Hold(
                record_id=rid,
                patron=busy,
                patron_group_id=inst.pk,
                pickup_branch=branches[0],
                placed_at=now - dt.timedelta(days=1),
            )
        )
    with transaction.atomic():
        Hold.objects.bulk_create(hold_rows, batch_size=2000)
    print(
        f"[{time.monotonic() - t0:5.0f}s] {len(loan_rows):,} open loans, "
        f"{len(hold_rows):,} waiting holds",
        flush=True,
    )

    for start in range(0, len(record_ids), 1000):
        with transaction.atomic():
            index_records(record_ids[start : start + 1000])
    print(f"[{time.monotonic() - t0:5.0f}s] search index built", flush=True)

    desk = make_staff("bench-desk", roles=["circulation-desk"])
    add_totp(desk)
    token = api_token_create(
        actor=None,
        username="bench-desk",
        name="bench self-check",
        role_codes=["circulation-desk"],
        personal_data=True,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "patrons.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["barcode"])
        w.writerows([f"23{n:08d}"] for n in range(patrons))

    def items_csv(name, rows):
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["barcode", "branch_id"])
            w.writerows([i.barcode, i.branch_id] for i in rows)

    items_csv("items_available.csv", free_items)
    items_csv("items_on_loan.csv", loan_items)
    items_csv("perf_circ3.csv", reserved_items)
    fd = os.open(out / "token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token.token)
    meta = {
        "engine": connection.vendor,
        "records": len(records),
        "items": len(items),
        "patrons": len(people) + 2,
        "open_loans": len(loan_rows),
        "holds": len(hold_rows),
        "busy_patron": {"barcode": "2399999998", "loans": busy_loans, "holds": busy_holds},
        "empty_patron": {"barcode": "2399999999"},
        "seconds": round(time.monotonic() - t0, 1),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(f"[{time.monotonic() - t0:5.0f}s] done: {json.dumps(meta)}", flush=True)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--patrons", type=int, default=3000)
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--holds", type=int, default=3000)
    parser.add_argument("--available", type=int, default=6000, help="items on the shelf")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    generate(
        args.out,
        patrons=args.patrons,
        loans=args.loans,
        holds=args.holds,
        available=args.available,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
