"""Making a data subject: its own data key first, then the Subject row.

Below services and fields: a subject field makes its subject on save through here, so
fields do not import services (which import the models, whose inventory reads the
fields: no cycle inside the kernel, docs/dev/architecture.md, #14). Importable as
``privacy.services.subject_create`` as before.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from quietshelf.privacy import keys

if TYPE_CHECKING:
    from quietshelf.privacy.models import Subject


def subject_create(*, kind: str) -> Subject:
    """A new data subject with its own data key.

    The key is committed in the key store first: if the caller's transaction
    then rolls back, an unused key is left behind (harmless, swept by
    `quietshelf rotate-keys --sweep`), never a row without a key.
    """
    # models are read when a subject is made, not at import: fields (which import this
    # module) load before the models do
    from quietshelf.privacy.models import Subject, SubjectKind

    if kind not in SubjectKind.values:
        raise ValueError(f"unknown subject kind {kind!r}")
    subject_id = uuid.uuid4()
    keys.create_data_key(subject_id)
    return Subject.objects.create(id=subject_id, kind=kind)
