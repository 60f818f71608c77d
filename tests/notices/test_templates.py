"""The template sandbox (SEC-TPL-1) and template editing by staff."""

from __future__ import annotations

import pytest

from quietshelf.core.errors import PermissionDenied
from quietshelf.notices import defaults, sandbox, services
from quietshelf.notices.models import NoticeTemplate


@pytest.mark.parametrize(
    "text",
    [
        "{% load static %}{% static 'x' %}",
        '{% include "staff/base.html" %}',
        '{% extends "staff/base.html" %}',
        "{% debug %}",
        '{% ssi "/etc/passwd" %}',
        "{% url 'account:home' %}",
        "{% csrf_token %}",
        "{% now 'Y' %}",
    ],
)
def test_tags_that_reach_files_urls_or_context_are_refused_sec_tpl_1(text):
    with pytest.raises(sandbox.TemplateProblem, match="is not allowed"):
        sandbox.check(text, variables=defaults.sample("due_soon"), language="en")


@pytest.mark.parametrize(
    "text",
    [
        "{{ count.__class__ }}",
        "{{ due_date.__class__.__mro__ }}",
        "{{ titles|safe }}",
        "{{ titles|pprint }}",
        "{{ count|floatformat:99999 }}",
        "{% if %}",
        "{% for x in %}",
    ],
)
def test_private_attributes_unlisted_filters_and_syntax_errors_are_refused_sec_tpl_1(text):
    with pytest.raises(sandbox.TemplateProblem):
        sandbox.check(text, variables=defaults.sample("due_soon"), language="en")


def test_only_the_variables_given_to_the_notice_are_reachable_sec_tpl_1():
    with pytest.raises(sandbox.TemplateProblem, match=r"Unknown variable \{\{ patron \}\}"):
        sandbox.check("{{ patron.given_name }}", variables=defaults.sample("fee"), language="en")
    with pytest.raises(sandbox.TemplateProblem, match="titles"):  # fee notices carry no titles
        sandbox.check("{{ titles }}", variables=defaults.sample("fee"), language="en")
    # at render time nothing else is in the context either
    assert sandbox.render("[{{ settings }}{{ request }}]", {"count": 1}, language="en") == "[]"


def test_model_instances_never_reach_a_template_sec_tpl_1(db, django_user_model):
    user = django_user_model(username="x")
    with pytest.raises(TypeError):
        sandbox.render("{{ u }}", {"u": user}, language="en")


def test_every_built_in_template_passes_the_save_check_sec_tpl_1():
    for (notice_type, language, channel), (subject, body) in defaults.DEFAULTS.items():
        services.template_preview(
            notice_type=notice_type,
            language=language,
            channel=channel,
            subject=subject,
            body=body,
        )


def test_a_broken_template_is_caught_at_save_time_and_not_stored_sec_tpl_1(db):
    from quietshelf.accounts.testing import make_staff

    admin = make_staff("tpl-admin", roles=["administrator"])
    with pytest.raises(sandbox.TemplateProblem) as caught:
        services.template_save(
            actor=admin,
            notice_type="overdue",
            language="en",
            channel="email",
            subject="Overdue",
            body="{% if level %}Reminder",
        )
    assert caught.value.details["field"] == "body"
    assert not NoticeTemplate.objects.exists()
    services.template_save(
        actor=admin,
        notice_type="overdue",
        language="en",
        channel="email",
        subject="Overdue",
        body="{% if level == 2 %}Second reminder. {% endif %}{{ count }} late.",
    )
    assert NoticeTemplate.objects.get().body.endswith("{{ count }} late.")


def test_editing_templates_needs_the_permission_sec_tpl_1(db):
    from quietshelf.accounts.testing import make_staff

    desk = make_staff("tpl-desk", roles=["circulation-desk"])
    with pytest.raises(PermissionDenied):
        services.template_save(
            actor=desk, notice_type="fee", language="en", channel="sms", subject="", body="Pay."
        )


def test_a_saved_template_is_used_and_audited_sec_tpl_1(db, reader, loan):
    import datetime as dt

    from django.core import mail

    from quietshelf.accounts.testing import make_staff
    from quietshelf.privacy.models import AuditEntry
    from tests.notices.conftest import TODAY

    admin = make_staff("tpl-admin2", roles=["administrator"])
    template = services.template_save(
        actor=admin,
        notice_type="due_soon",
        language="en",
        channel="email",
        subject="Soon due",
        body="{{ count }} thing{{ count|pluralize }} due {{ due_date|date:'j M' }}.",
    )
    assert AuditEntry.objects.filter(
        object_type="notices.noticetemplate",
        object_id=str(template.pk),
        reason="notice_template_saved",
    ).exists()
    loan(reader(), TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert mail.outbox[0].subject == "Soon due"
    assert mail.outbox[0].body == "1 thing due 5 Mar.\n"


@pytest.mark.parametrize("name", ["password", "pin", "card", "barcode", "patron", "email"])
def test_no_credential_or_identifier_is_a_template_variable_prv_auth_1(name):
    """PRV-AUTH-1 / PRV-NOT-1: no notice type is given a credential, card or address."""
    for notice_type in defaults.VARIABLES:
        assert name not in defaults.variables_for(notice_type)
        with pytest.raises(sandbox.TemplateProblem, match="Unknown variable"):
            sandbox.check(
                "{{ " + name + " }}", variables=defaults.sample(notice_type), language="en"
            )


def test_rendered_text_is_plain_text_never_marked_safe_html_sec_xss_1():
    """A page that shows a rendered notice (the preview) escapes it like any text."""
    from django.utils.html import conditional_escape
    from django.utils.safestring import SafeData

    body = '<div hx-post="/staff/accounts/new/" hx-trigger="load">{{ pickup_branch }}</div>'
    out = sandbox.render(body, {"pickup_branch": "North"}, language="en")
    assert not isinstance(out, SafeData) and type(out) is str
    assert conditional_escape(out).startswith("&lt;div hx-post=")
    subject, text = services.template_preview(
        notice_type="hold_ready", language="en", channel="email", subject="<b>x</b>", body=body
    )
    assert not isinstance(subject, SafeData) and not isinstance(text, SafeData)
