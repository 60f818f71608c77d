"""Pure rules for staff accounts: plain values in and out, no ORM (DESIGN.md, Rules)."""

from __future__ import annotations


def lock_seconds(*, locks_before: int, base: int, cap: int) -> int:
    """How long a second factor stays locked (SEC-AUTH-1).

    The first lock lasts `base` seconds; each further lock in a row (no right
    answer in between) twice the one before, never more than `cap`. Guessing a
    six-digit code at ten tries per lock then takes years, while a staff member
    who mistyped is back within minutes.
    """
    if locks_before < 0:
        locks_before = 0
    # 2**n grows past any cap quickly; stop doubling once it is reached
    seconds = max(1, base)
    for _ in range(locks_before):
        seconds *= 2
        if seconds >= cap:
            return cap
    return min(seconds, cap)


# A sign-in (or a re-check of who you are) ends after this many wrong answers in one
# session; the account-wide lock (lock_due) counts across sessions.
MAX_CODE_TRIES = 5


def code_tries_spent(tries: int) -> bool:
    """True when a session has used up its wrong answers: sign in again."""
    return tries >= MAX_CODE_TRIES


def lock_due(*, failures: int, max_failures: int) -> bool:
    """True when this many wrong answers in a row lock the second factor."""
    return failures >= max(1, max_failures)
