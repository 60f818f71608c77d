"""factory_boy factories for every model the tests create."""

from __future__ import annotations

import factory

from quietshelf.accounts.models import StaffUser
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType, ShelvingLocation


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"BR{n}")
    name = factory.Sequence(lambda n: f"Branch {n}")


class ShelvingLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShelvingLocation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LOC{n}")
    name = factory.Sequence(lambda n: f"Location {n}")


class ItemTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ItemType
        django_get_or_create = ("code",)

    code = "BOOK"
    name = "Book"


class BibRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BibRecord

    leader = "00000nam a2200000 a 4500"
    marc_json = factory.LazyAttribute(
        lambda o: {
            "leader": o.leader,
            "fields": [{"245": {"ind1": "0", "ind2": "0", "subfields": [{"a": o.title}]}}],
        }
    )
    title = factory.Sequence(lambda n: f"A made-up title {n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    record = factory.SubFactory(BibRecordFactory)
    barcode = factory.Sequence(lambda n: f"3900000{n:06d}")
    branch = factory.SubFactory(BranchFactory)
    item_type = factory.SubFactory(ItemTypeFactory)


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffUser
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "correct-horse-battery-9")
        if create:
            obj.save(update_fields=["password"])


def noon_days_ago(days: int):
    """Local noon `days` days ago, aware: a due time that is `days` library days past
    whenever the test runs (near midnight, or with a clock change in between, "now
    minus n days" can fall on another local date)."""
    import datetime as dt

    from django.utils import timezone

    day = timezone.localdate() - dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
