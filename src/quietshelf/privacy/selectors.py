"""Reads of the privacy kernel: the generated statement, the Art. 30 report, audit search.

The statement and the report are built from the inventory (declarations on
the models) and the live settings (retention, processors, controller), never
written by hand (PRV-INV-2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.conf import settings

from quietshelf.privacy import inventory, retention
from quietshelf.privacy.models import AuditEntry, PolicyVersion


def retention_text(rule: str, rules: dict | None = None) -> str:
    """The period as stated, from the same Rule objects the retention job applies."""
    found = (rules if rules is not None else retention.schedule()).get(rule)
    return "not set" if found is None else found.text()


@dataclass
class StatementRow:
    what: str
    category: str
    category_text: str
    risk: str
    purpose: str
    legal_basis: str
    legal_basis_text: str
    source: str
    retention: str
    retention_text: str
    readers: list[str]
    encrypted: bool
    where: str


@dataclass
class StatementGroup:
    key: str
    title: str
    rows: list[StatementRow] = field(default_factory=list)


@dataclass
class Statement:
    controller: dict
    groups: list[StatementGroup]
    processors: list[dict]
    policy: PolicyVersion | None
    history: list[PolicyVersion]
    retention: dict

    def as_dict(self) -> dict:
        return {
            "controller": self.controller,
            "policy": _policy_dict(self.policy),
            "policy_history": [_policy_dict(p) for p in self.history],
            "subject_groups": [asdict(g) for g in self.groups],
            "processors": self.processors,
            "retention_rules": {
                key: {
                    "days": rule.days,
                    "after": rule.after,
                    "job": rule.job,
                    "text": rule.text(),
                }
                for key, rule in self.retention.items()
            },
        }


def _policy_dict(policy: PolicyVersion | None) -> dict | None:
    if policy is None:
        return None
    return {
        "version": policy.version,
        "effective_date": policy.effective_date.isoformat(),
        "summary_of_changes": policy.summary_of_changes,
        "material": policy.material,
    }


def statement() -> Statement:
    from quietshelf.privacy.services import current_policy

    groups = {
        key: StatementGroup(key=key, title=title)
        for key, title in inventory.SUBJECT_CATEGORIES.items()
    }
    # What matters most to a reader first: what reveals reading and identity,
    # then the rest; sign-in and security plumbing last.
    risk_order = {"high": 0, "medium": 1, "low": 2}

    def reading_order(i):
        return (
            i.decl.category == "technical",
            risk_order.get(i.decl.risk, 3),
            i.model_label,
            i.field,
        )

    rules = retention.schedule()
    for item in sorted(inventory.items(), key=reading_order):
        d = item.decl
        row = StatementRow(
            what=f"{item.field_label} ({item.model_name})",
            category=d.category,
            category_text=inventory.DATA_CATEGORIES.get(d.category, d.category),
            risk=d.risk,
            purpose=d.purpose,
            legal_basis=d.legal_basis,
            legal_basis_text=inventory.LEGAL_BASES.get(d.legal_basis, d.legal_basis),
            source=d.source,
            retention=d.retention,
            retention_text=retention_text(d.retention, rules),
            readers=list(d.readers),
            encrypted=item.encrypted,
            where=f"{item.model_label}.{item.field}",
        )
        for subject in item.subjects:
            if subject in groups:
                groups[subject].rows.append(row)
    policy = current_policy()
    history = list(PolicyVersion.objects.order_by("-effective_date", "-id")[:20])
    return Statement(
        controller=dict(settings.QUIETSHELF_CONTROLLER),
        groups=[g for g in groups.values() if g.rows],
        processors=list(settings.QUIETSHELF_PROCESSORS),
        policy=policy,
        history=history,
        retention=rules,
    )


SECURITY_MEASURES = [
    "personal fields encrypted with AES-256-GCM under a key per person (envelope encryption)",
    "data keys wrapped by a versioned master key kept outside the database; key store apart",
    "exact look-ups through HMAC-SHA256 blind indexes; names searched through hashed tokens",
    "erasure by deleting the person's key (crypto-shredding), effective in backups too",
    "append-only, hash-chained audit log with signed checkpoints",
    "Argon2id password hashes; no personal values in logs",
]


def records_of_processing() -> dict:
    """GDPR Art. 30(1) records, one activity per purpose."""
    st = statement()
    activities: dict[str, dict] = {}
    for group in st.groups:
        for row in group.rows:
            act = activities.setdefault(
                row.purpose,
                {
                    "purpose": row.purpose,
                    "legal_basis": row.legal_basis,
                    "data_subjects": set(),
                    "data_categories": set(),
                    "fields": set(),
                    "recipients": set(),
                    "retention": set(),
                    "risk": set(),
                },
            )
            act["data_subjects"].add(group.key)
            act["data_categories"].add(row.category)
            act["fields"].add(row.where)
            act["recipients"].update(row.readers)
            act["retention"].add(row.retention_text)
            act["risk"].add(row.risk)
    out = []
    for act in activities.values():
        out.append({k: sorted(v) if isinstance(v, set) else v for k, v in act.items()})
    out.sort(key=lambda a: a["purpose"])
    return {
        "controller": st.controller,
        "policy": _policy_dict(st.policy),
        "activities": out,
        "processors": st.processors,
        "transfers_outside_eea": [p for p in st.processors if p.get("outside_eea")],
        "security_measures": SECURITY_MEASURES,
    }


def records_markdown(data: dict) -> str:
    lines = ["# Records of processing activities (GDPR Art. 30)", ""]
    c = data["controller"]
    lines += [f"Controller: {c.get('name', '')}", f"Contact: {c.get('contact') or 'not set'}", ""]
    if data["policy"]:
        p = data["policy"]
        lines += [f"Privacy policy version {p['version']}, effective {p['effective_date']}", ""]
    for act in data["activities"]:
        lines += [
            f"## {act['purpose']}",
            "",
            f"- Legal basis: {act['legal_basis']}",
            f"- Data subjects: {', '.join(act['data_subjects'])}",
            f"- Categories of data: {', '.join(act['data_categories'])}",
            f"- Fields: {', '.join(act['fields'])}",
            f"- Recipients (roles): {', '.join(act['recipients']) or 'none'}",
            f"- Retention: {'; '.join(act['retention'])}",
            f"- Risk: {', '.join(act['risk'])}",
            "",
        ]
    lines += ["## Processors and sub-processors", ""]
    if data["processors"]:
        for p in data["processors"]:
            lines.append(
                f"- {p.get('name', '?')}: {p.get('purpose', '')} ({p.get('location', '?')})"
            )
    else:
        lines.append("- none: this instance processes personal data only on its own servers")
    lines += ["", "## Technical and organisational security measures", ""]
    lines += [f"- {m}" for m in data["security_measures"]]
    return "\n".join(lines) + "\n"


def policy_by_version(version: str) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(version=version).first()


def audit_search(*, object_type: str = "", object_id: str = "", actor_id: str = "", limit=200):
    qs = AuditEntry.objects.order_by("-seq")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    return list(qs[:limit])
