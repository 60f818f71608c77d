"""After migrate (or a test-suite flush) the catalogue drops search rows whose record is
gone: the search tables are raw SQL, which Django's flush does not empty (CAT-2; the
clean-up is the catalogue app's own since #14 item 2, no longer the OPAC's)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.signals import post_migrate

from quietshelf.catalog.search import SearchQuery, search
from tests.catalog.search_helpers import make_record

pytestmark = pytest.mark.django_db


def _indexed() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog_search")
        return cur.fetchone()[0]


def test_post_migrate_of_the_catalogue_drops_orphaned_search_rows_cat_2():
    kept = make_record(title="Fjellvandring i vest")
    gone = make_record(title="Fjellvandring i nord")
    assert _indexed() == 2
    with connection.cursor() as cur:  # as a flush would: the record goes, its row stays
        cur.execute("DELETE FROM catalog_bibrecord WHERE id = %s", [gone.pk])
    assert _indexed() == 2
    catalog = apps.get_app_config("catalog")
    receivers = post_migrate._live_receivers(catalog)
    receivers = receivers[0] if isinstance(receivers, tuple) else receivers
    hook = [r for r in receivers if getattr(r, "__module__", "") == "quietshelf.catalog.apps"]
    assert hook, "the catalogue app connects its clean-up to post_migrate"
    hook[0](sender=catalog, using="default")
    assert _indexed() == 1
    assert search(SearchQuery(text="fjellvandring")).record_ids == [kept.pk]
