"""Privacy declarations for django-axes' tables (sign-in throttling, SEC-SES-1).

Axes is configured (settings, accounts/axes_support.py) so that the tried
user name is stored only as a blind-index digest and the form data is masked;
successful sign-ins are not logged (AXES_DISABLE_ACCESS_LOG).
"""

from __future__ import annotations

from quietshelf.privacy.inventory import declare_external, personal

_IP = personal(
    category="technical",
    risk="medium",
    purpose="stopping password guessing (lockout by address and account together)",
    legal_basis="legitimate_interest",
    source="the request",
    retention="security_log",
    readers=("system", "administrator"),
    subject=("staff", "patron"),
)
_USERNAME = personal(
    category="identifier",
    risk="low",
    purpose="stopping password guessing on one account (a keyed digest, never the name)",
    legal_basis="legitimate_interest",
    source="derived from the name typed at sign-in",
    retention="security_log",
    readers=("system",),
    subject=("staff", "patron"),
)
_AGENT = personal(
    category="technical",
    risk="low",
    purpose="stopping password guessing",
    legal_basis="legitimate_interest",
    source="the browser",
    retention="security_log",
    readers=("system",),
    subject=("staff", "patron"),
)
_MASKED = personal(
    category="technical",
    risk="low",
    purpose="stopping password guessing (every value masked)",
    legal_basis="legitimate_interest",
    source="the request",
    retention="security_log",
    readers=("system",),
    subject=("staff", "patron"),
)
_COMMON_NOT_PERSONAL = {
    "http_accept": "the browser's Accept header",
    "path_info": "the sign-in path",
}

declare_external(
    "axes.AccessAttempt",
    subject=("staff", "patron"),
    fields={
        "ip_address": _IP,
        "username": _USERNAME,
        "user_agent": _AGENT,
        "get_data": _MASKED,
        "post_data": _MASKED,
    },
    not_personal=_COMMON_NOT_PERSONAL,
)
declare_external(
    "axes.AccessLog",
    subject=("staff", "patron"),
    fields={
        "ip_address": _IP,
        "username": _USERNAME,
        "user_agent": _AGENT,
        "session_hash": _MASKED,
    },
    not_personal=_COMMON_NOT_PERSONAL,
)
declare_external(
    "axes.AccessFailureLog",
    subject=("staff", "patron"),
    fields={"ip_address": _IP, "username": _USERNAME, "user_agent": _AGENT},
    not_personal=_COMMON_NOT_PERSONAL,
)
declare_external("axes.AccessAttemptExpiration", not_personal={})
