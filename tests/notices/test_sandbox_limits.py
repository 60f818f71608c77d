"""Resource limits and the remaining escapes of the notice template sandbox (SEC-TPL-1).

The review found that loops over string literals made unbounded work: a
281-character template took seconds to save and rendered a text message of
2.5 million characters. These tests pin the rules that bound a render: loops
only over the notice's own lists, never nested, no attribute lookups, and a
meter that stops a render past its length or work limit.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.core import mail

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.notices import defaults, sandbox, services
from quietshelf.notices.models import NoticeTemplate
from tests.notices.conftest import TODAY

SAMPLE = defaults.sample("due_soon")
X40 = "'" + "x" * 40 + "'"
# the reviewer's shape: 281 characters, three loops over literals around a variable
BOMB = (
    f"{{% for a in {X40} %}}{{% for b in {X40} %}}{{% for c in {X40} %}}{{% for d in {X40} %}}"
    "{{ library }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)


def _check(text, notice_type="due_soon", **kw):
    return sandbox.check(text, variables=defaults.sample(notice_type), language="en", **kw)


@pytest.mark.parametrize(
    "text",
    [
        BOMB,
        "{% for a in 'abcdef' %}{{ a }}{% endfor %}",
        "{% for a in library %}{{ a }}{% endfor %}",  # a string, not a list
        "{% for a in titles|add:titles %}{{ a }}{% endfor %}",  # a filtered value
        "{% for a in titles.0 %}{{ a }}{% endfor %}",
        "{% for t in titles %}{% for c in t %}{{ c }}{% endfor %}{% endfor %}",  # nested
        "{% for t in titles %}{% if t %}{% for d in titles %}{% endfor %}{% endif %}{% endfor %}",
    ],
)
def test_loops_go_only_once_through_the_notices_own_lists_sec_tpl_1(text):
    with pytest.raises(sandbox.TemplateProblem) as caught:
        _check(text)
    assert "loop" in caught.value.message or "{% for %}" in caught.value.message


def test_the_reviewers_281_character_template_is_refused_and_not_stored_sec_tpl_1(db):
    admin = make_staff("lim-admin", roles=["administrator"])
    assert len(BOMB) < 300
    with pytest.raises(sandbox.TemplateProblem, match="can only go through a list"):
        services.template_save(
            actor=admin, notice_type="due_soon", language="en", channel="sms", subject="", body=BOMB
        )
    assert not NoticeTemplate.objects.exists()


def test_a_loop_over_titles_still_works_sec_tpl_1():
    text = (
        "{% for t in titles %}{{ forloop.counter }}. {{ t }}{% if not forloop.last %}; {% endif %}"
        "{% empty %}none{% endfor %}"
    )
    assert _check(text) == "1. The Lighthouse Keeper's Garden; 2. Notes on Quiet Rooms"
    assert sandbox.render(text, {"titles": []}, language="en") == "none"


def test_with_and_for_may_not_rebind_a_notice_variable_sec_tpl_1():
    with pytest.raises(sandbox.TemplateProblem, match="is a notice variable"):
        _check("{% with titles=library %}{% for c in titles %}{{ c }}{% endfor %}{% endwith %}")
    with pytest.raises(sandbox.TemplateProblem, match="is a notice variable"):
        _check("{% for library in titles %}{{ library }}{% endfor %}")


def test_with_names_are_known_inside_their_block_only_sec_tpl_1():
    """`{% with %}` is advertised: a name it defines is a variable inside it, like a loop's."""
    assert _check("{% with n=count %}{{ n }}{% endwith %}") == "2"
    assert _check("{% with count as n %}{{ n|add:1 }}{% endwith %}") == "3"
    assert (
        _check(
            "{% for t in titles %}{% with first=forloop.first %}{{ first }} {% endwith %}"
            "{% endfor %}"
        )
        == "True False "
    )
    with pytest.raises(sandbox.TemplateProblem, match=r"Unknown variable \{\{ n \}\}"):
        _check("{% with n=count %}{% endwith %}{{ n }}")
    with pytest.raises(sandbox.TemplateProblem, match=r"Unknown variable \{\{ secret \}\}"):
        _check("{% with n=secret %}{{ n }}{% endwith %}")


@pytest.mark.parametrize(
    "text",
    [
        "{{ titles.clear }}",  # would call list.clear()
        "{{ titles.pop }}",
        "{{ due_date.year }}",
        "{{ due_date.today }}",
        "{{ library.upper }}",
        "{{ count.real }}",
        "{{ account_url.splitlines }}",
        "{% if library.isupper %}x{% endif %}",
        "{{ count|add:due_date.toordinal }}",
        "{% firstof missing due_date.ctime %}",
        "{% for t in titles %}{{ t.upper }}{% endfor %}",
        "{% for t in titles %}{{ forloop.parentloop }}{% endfor %}",
        "{% with d=due_date %}{{ d.isoformat }}{% endwith %}",
    ],
)
def test_no_attribute_or_method_lookup_on_any_variable_sec_tpl_1(text):
    with pytest.raises(sandbox.TemplateProblem, match="look up attributes|a loop offers only"):
        _check(text)


def test_list_positions_and_loop_counters_are_allowed_sec_tpl_1():
    assert _check("{{ titles.1 }}") == "Notes on Quiet Rooms"
    assert _check("{% for t in titles %}{{ forloop.revcounter }}{% endfor %}") == "21"


def test_firstof_cannot_define_a_variable_sec_tpl_1():
    with pytest.raises(sandbox.TemplateProblem, match="firstof"):
        _check("{% firstof library as x %}{{ x }}")
    assert _check("{% firstof '' library %}") == "Quietshelf Library"


def test_deep_nesting_is_a_form_error_not_a_crash_sec_tpl_1():
    with pytest.raises(sandbox.TemplateProblem, match="nested too deeply"):
        _check("{% if " + "not " * 1200 + "count %}x{% endif %}")
    with pytest.raises(sandbox.TemplateProblem, match="nested too deeply"):
        _check("{% if count %}" * 30 + "x" + "{% endif %}" * 30)


def test_rendered_length_is_capped_at_save_with_a_readable_error_sec_tpl_1():
    long_date = "{{ due_date|date:'" + "r" * 700 + "' }}"  # 700 RFC dates: about 21,700 characters
    with pytest.raises(sandbox.TemplateProblem, match="longer than 20,000 characters"):
        _check(long_date)
    with pytest.raises(sandbox.TemplateProblem, match="longer than 200 characters"):
        _check("{{ titles|join:'" + "-" * 200 + "' }}", field="subject")
    with pytest.raises(sandbox.TemplateProblem, match="three text messages"):
        _check("x" * 481, limit=sandbox.limit_for("sms"))
    assert len(_check("x" * 480, limit=sandbox.limit_for("sms"))) == 480


def test_filter_work_is_metered_so_big_intermediate_values_stop_early_sec_tpl_1():
    # joins a 4,000-character string letter by letter with a 500-character glue: 2 MB
    text = "{{ library|add:'" + "y" * 4000 + "'|join:'" + "z" * 500 + "'|length }}"
    with pytest.raises(sandbox.TemplateProblem, match="too much text"):
        _check(text)
    # nested withs doubling a value: 2**20 times the library's name
    doubling = "".join(f"{{% with v{i}=v{i - 1}|add:v{i - 1} %}}" for i in range(1, 20))
    text = "{% with v0=library %}" + doubling + "{{ v19|length }}" + "{% endwith %}" * 20
    with pytest.raises(sandbox.TemplateProblem, match="too much text"):
        _check(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ library|wordwrap:999999999 }}", "Quietshelf Library"),
        ("{{ library|truncatechars:999999999999 }}", "Quietshelf Library"),
        ("{% if 'Quiet' in library %}yes{% endif %}", "yes"),
        ("{{ count|pluralize:'" + "a," * 1000 + "' }}", ""),
    ],
)
def test_filters_with_huge_arguments_stay_bounded_sec_tpl_1(text, expected):
    assert _check(text) == expected


def test_render_stops_at_the_callers_limit_sec_tpl_1():
    titles = [f"Title number {n}" for n in range(1000)]
    text = "{% for t in titles %}{{ t }}, {% endfor %}"
    with pytest.raises(sandbox.TemplateTooLong):
        sandbox.render(text, {"titles": titles}, language="en", limit=sandbox.limit_for("sms"))
    assert len(sandbox.render(text, {"titles": titles[:10]}, language="en", limit=480)) < 480
    # the default limit is an e-mail text's
    with pytest.raises(sandbox.TemplateTooLong):
        sandbox.render(text, {"titles": titles * 2}, language="en")


def test_the_built_in_texts_are_not_cut_short_sec_tpl_1():
    """Our own texts list every title a patron allowed, however many there are."""
    subject, body = defaults.DEFAULTS[("due_soon", "en", "email")]
    values = {**SAMPLE, "titles": [f"A rather long title, volume {n}" for n in range(1000)]}
    assert len(sandbox.render(body, values, language="en")) > sandbox.EMAIL_BODY_MAX


def test_a_stored_bomb_is_not_rendered_at_delivery_the_built_in_text_is_sent_sec_tpl_1(
    db, reader, loan, caplog
):
    """A template stored before these rules (or by hand) falls back, and the run logs it."""
    NoticeTemplate.objects.create(
        notice_type="due_soon", language="en", channel="email", subject="Due", body=BOMB
    )
    loan(reader(), TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    with caplog.at_level(logging.ERROR):
        services.deliver_queued_notices()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Items due on 5 March"
    assert mail.outbox[0].body.startswith("You have 1 item due on 5 March.")
    assert "due_soon/en/email failed; built-in used" in caplog.text
    assert "can only go through a list" in caplog.text
    assert "fjordvik.example" not in caplog.text  # the patron's address never reaches the log


def test_a_stored_template_rendering_too_long_falls_back_at_delivery_sec_tpl_1(db, reader, loan):
    NoticeTemplate.objects.create(
        notice_type="due_soon",
        language="en",
        channel="email",
        subject="Due",
        body="{{ due_date|date:'" + "r" * 700 + "' }}",
    )
    loan(reader(), TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert mail.outbox[0].body.startswith("You have 1 item due on 5 March.")


def test_sms_editor_refuses_a_text_longer_than_three_messages_sec_tpl_1(circ):
    admin = make_staff("lim-sms", roles=["administrator"])
    client = signed_in_client(admin)
    url = "/staff/notices/templates/fee/en/sms/"
    long_text = "You have {{ count }} fees. " + "Please pay. " * 40  # about 510 characters
    page = client.post(url, {"body": long_text, "action": "save"})
    assert page.status_code == 200
    assert "longer than 480 characters (three text messages)" in page.content.decode()
    assert not NoticeTemplate.objects.exists()
    assert client.post(url, {"body": long_text[:300], "action": "save"}).status_code == 302
    assert NoticeTemplate.objects.get().channel == "sms"


def test_sms_editor_error_is_in_norwegian_for_norwegian_staff_sec_tpl_1(circ):
    admin = make_staff("lim-sms-nb", roles=["administrator"])
    client = signed_in_client(admin)
    page = client.post(
        "/staff/notices/templates/fee/nb/sms/",
        {"body": "{% for a in 'abc' %}{{ a }}{% endfor %}", "action": "save"},
        HTTP_ACCEPT_LANGUAGE="nb",
    )
    assert "kan bare gå gjennom en liste varselet har" in page.content.decode()


def _doubling(levels: int, seed: str, body: str) -> str:
    """`levels` nested withs, each doubling the last value: v{n} is seed repeated 2**n times."""
    text = "{% with v0=" + seed + " %}"
    for i in range(1, levels):
        text += f"{{% with v{i}=v{i - 1}|add:v{i - 1} %}}"
    return text + body.replace("LAST", f"v{levels - 1}") + "{% endwith %}" * levels


@pytest.mark.parametrize(
    "body",
    [
        "{{ LAST|join:'" + "z" * 1000 + "'|length }}",  # 150,000 letters, 1,000 glue each
        "{{ due_date|date:LAST|length }}",  # a 200,000-character date format
    ],
    ids=["join", "date"],
)
def test_multiplying_filters_are_stopped_before_they_build_the_text_sec_tpl_1(body):
    """Checked before the filter runs: the save request never holds hundreds of megabytes."""
    import tracemalloc

    if "join" in body:
        text = _doubling(14, "library", body)
    else:  # small enough for the doublings themselves to pass the meter
        text = _doubling(12, "'" + "r" * 100 + "'", body)
    assert len(text) < 2000
    tracemalloc.start()
    try:
        with pytest.raises(sandbox.TemplateProblem, match="too much text"):
            _check(text)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


@pytest.mark.parametrize("name", ["center:99999999", "ljust:99999999", "rjust:99999999", "safe"])
def test_padding_filters_that_make_text_from_a_number_are_not_available_sec_tpl_1(name):
    with pytest.raises(sandbox.TemplateProblem, match="is not allowed in notices"):
        _check("{{ library|" + name + " }}")


def test_a_stored_sms_text_longer_than_three_messages_falls_back_at_delivery_sec_tpl_1(
    db, reader, loan, caplog
):
    """SEC-TPL-1: the SMS limit holds at delivery too, not only in the staff editor."""
    NoticeTemplate.objects.create(
        notice_type="due_soon",
        language="en",
        channel="sms",
        subject="",
        body="Due {{ due_date }}. " + "Please come back soon. " * 30,  # about 700 characters
    )
    loan(reader(email="", phone="+4791234567", notification_channel="sms"), TODAY)
    assert services.render_notice("due_soon", "en", "sms", {"count": 1})[1].startswith("You have")
    assert "due_soon/en/sms failed; built-in used (TemplateTooLong" in caplog.text
