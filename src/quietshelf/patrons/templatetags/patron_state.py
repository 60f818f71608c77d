"""{% patron_signed_in as signed_in %}: whether a patron is signed in on this browser, for
the public pages' "Sign in" / "My account" link (PatronMiddleware sets request.patron,
reading the session only when the browser sent a cookie: PRV-PUB-1)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def patron_signed_in(context) -> bool:
    request = context.get("request")
    return getattr(request, "patron", None) is not None


@register.simple_tag
def card_expired(patron) -> bool:
    """{% card_expired p as expired %}: the card's expiry date has passed (PAT-3), so pages
    say "expired" next to a status that may still read "active"."""
    from quietshelf.core import clock
    from quietshelf.patrons.policy import expired_card_block

    return bool(patron is not None and expired_card_block(patron, clock.today()))
