"""Notice texts: rendering in the sandbox, the library's own templates (SEC-TPL-1)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from quietshelf.accounts.authz import require
from quietshelf.notices import conf, defaults, policy, sandbox
from quietshelf.notices.models import (
    NoticeTemplate,
)
from quietshelf.notices.services.common import log
from quietshelf.privacy import audit


def _common() -> dict:
    return {"library": conf.library_name(), "account_url": f"{conf.site_url()}/account/"}


def _template_text(notice_type: str, language: str, channel: str, overrides: dict):
    row = overrides.get((notice_type, language, channel))
    if row is not None:
        return row
    return defaults.DEFAULTS[(notice_type, language, channel)]


def _overrides() -> dict:
    return {
        (t.notice_type, t.language, t.channel): (t.subject, t.body)
        for t in NoticeTemplate.objects.all()
    }


DATE_VARIABLES = ("due_date", "expires_on", "expiry_date")


def _revive(data: dict) -> dict:
    """Dates travel as ISO strings in the encrypted JSON; templates get dates back."""
    out = dict(data)
    for key in DATE_VARIABLES:
        if isinstance(out.get(key), str):
            try:
                out[key] = dt.date.fromisoformat(out[key])
            except ValueError:
                out[key] = None
    if isinstance(out.get("due_dates"), list):
        days = []
        for value in out["due_dates"]:
            try:
                days.append(dt.date.fromisoformat(value))
            except (TypeError, ValueError):
                continue
        out["due_dates"] = days
    return out


def render_notice(notice_type: str, language: str, channel: str, data: dict, overrides=None):
    """(subject, body) of a notice; a library template that fails falls back to the built-in."""
    overrides = _overrides() if overrides is None else overrides
    context = {**_common(), **_revive(data or {})}
    allowed = set(defaults.variables_for(notice_type))
    context = {k: v for k, v in context.items() if k in allowed}
    subject, body = _template_text(notice_type, language, channel, overrides)
    try:
        return (
            policy.one_line(
                sandbox.render(
                    subject,
                    context,
                    language=language,
                    limit=sandbox.limit_for(channel, "subject"),
                )
            ),
            sandbox.render(
                body, context, language=language, limit=sandbox.limit_for(channel)
            ).strip()
            + "\n",
        )
    except Exception as exc:  # noqa: BLE001 - checked at save time; never lose a notice over it
        # The sandbox's own messages name the rule broken; any other error's text
        # could quote the patron's values, so only its class is logged.
        reason = exc.message if isinstance(exc, sandbox.TemplateProblem) else ""
        log.error(
            "notice template %s/%s/%s failed; built-in used (%s: %s)",
            notice_type,
            language,
            channel,
            type(exc).__name__,
            reason,
        )
        subject, body = defaults.DEFAULTS[(notice_type, language, channel)]
        return (
            policy.one_line(sandbox.render(subject, context, language=language)),
            sandbox.render(body, context, language=language).strip() + "\n",
        )


def _check_template(notice_type, language, channel, subject, body) -> tuple[str, str]:
    if (notice_type, language, channel) not in defaults.DEFAULTS:
        raise sandbox.TemplateProblem("Unknown notice type, language or channel.")
    sample = defaults.sample(notice_type)
    rendered_subject = ""
    if channel == "email":
        if not subject.strip():
            raise sandbox.TemplateProblem(
                "An e-mail needs a subject.", details={"field": "subject"}
            )
        rendered_subject = sandbox.check(
            subject, variables=sample, language=language, field="subject"
        )
    rendered_body = sandbox.check(
        body, variables=sample, language=language, field="body", limit=sandbox.limit_for(channel)
    )
    if not rendered_body.strip():
        raise sandbox.TemplateProblem("The text renders empty.", details={"field": "body"})
    return policy.one_line(rendered_subject), rendered_body


def template_preview(
    *, notice_type: str, language: str, channel: str, subject: str, body: str
) -> tuple[str, str]:
    """The sample rendering of a draft, or TemplateProblem (no saving)."""
    return _check_template(notice_type, language, channel, subject or "", body or "")


@transaction.atomic(durable=True)
def template_save(
    *, actor, notice_type: str, language: str, channel: str, subject: str, body: str
) -> NoticeTemplate:
    """Create or replace the library's template (SEC-TPL-1: checked in the sandbox first)."""
    require(actor, "notices.manage_templates")
    subject = (subject or "").replace("\r\n", "\n")
    body = (body or "").replace("\r\n", "\n")
    _check_template(notice_type, language, channel, subject, body)
    template, _created = NoticeTemplate.objects.update_or_create(
        notice_type=notice_type,
        language=language,
        channel=channel,
        defaults={"subject": subject if channel == "email" else "", "body": body},
    )
    audit.record(actor=actor, action="changed", obj=template, reason="notice_template_saved")
    return template


@transaction.atomic(durable=True)
def template_reset(*, actor, notice_type: str, language: str, channel: str) -> bool:
    """Back to the built-in text."""
    require(actor, "notices.manage_templates")
    template = NoticeTemplate.objects.filter(
        notice_type=notice_type, language=language, channel=channel
    ).first()
    if template is None:
        return False
    audit.record(actor=actor, action="changed", obj=template, reason="notice_template_reset")
    template.delete()
    return True
