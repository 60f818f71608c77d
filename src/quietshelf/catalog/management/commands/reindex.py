"""quietshelf reindex: rebuild the catalogue search index from the records."""

from __future__ import annotations

import time

from django.db import transaction

from quietshelf.catalog.models import BibRecord
from quietshelf.catalog.search.backends import get_backend
from quietshelf.core.commands import QuietshelfCommand, UsageError


class Command(QuietshelfCommand):
    help = "Rebuild the catalogue search index (all records, or the ids given)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", help="record ids to reindex (default: all)")
        parser.add_argument(
            "--batch", type=int, default=1000, help="records per transaction (default 1000)"
        )

    def handle(self, *args, **options):
        batch = options["batch"]
        if batch < 1 or batch > 100_000:
            raise UsageError("--batch must be between 1 and 100000")
        try:
            wanted = [int(i) for i in options["ids"]]
        except ValueError as exc:
            raise UsageError("record ids must be whole numbers") from exc
        backend = get_backend()
        started = time.perf_counter()
        if wanted:
            ids = list(BibRecord.objects.filter(id__in=wanted).values_list("id", flat=True))
            missing = sorted(set(wanted) - set(ids))
            with transaction.atomic():
                backend.remove_records(missing)
                backend.index_records(ids)
            done = len(ids)
        else:
            total = BibRecord.objects.count()
            backend.remove_orphans()
            done = 0
            last = 0
            with self.progress(total=total, desc="reindex") as bar:
                while True:
                    ids = list(
                        BibRecord.objects.filter(id__gt=last)
                        .order_by("id")
                        .values_list("id", flat=True)[:batch]
                    )
                    if not ids:
                        break
                    with transaction.atomic():
                        backend.index_records(ids)
                    last = ids[-1]
                    done += len(ids)
                    bar.update(len(ids))
            missing = []
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        extra = f", {len(missing)} not found (removed from the index)" if missing else ""
        self.stdout.write(f"reindexed {done} records in {elapsed:.1f} s ({rate:.0f}/s){extra}")
