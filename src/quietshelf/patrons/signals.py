"""SEC-ID-1: a card number is retired whenever its card row goes, however it goes."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from quietshelf.patrons.models import Card, RetiredIdentifier


@receiver(pre_delete, sender=Card, dispatch_uid="patrons_retire_deleted_card")
def retire_deleted_card(sender, instance: Card, **kwargs) -> None:
    if instance.barcode_index:
        RetiredIdentifier.objects.get_or_create(kind="card", digest=instance.barcode_index)
