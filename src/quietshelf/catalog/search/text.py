"""Text folding and tokenising shared by both engines, for documents and queries alike.

Both engines get text that is already folded and split here, so SQLite FTS5 and
PostgreSQL see the same words: lower case, Latin diacritics removed (é → e,
ø → o, æ → ae), other scripts kept whole. A word is a run of letters, digits
and combining marks (Unicode L*, N*, M*, Co), so Devanagari words with vowel
signs stay one word instead of breaking at every mark.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that have no Unicode decomposition but that a reader expects folded.
_EXTRA_FOLDS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
    }
)

# Combining marks that are diacritics on Latin, Greek and Cyrillic letters.
# Marks of other scripts (Devanagari vowel signs, virama, nukta...) are kept.
_DIACRITIC_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)

MAX_TOKEN_CHARS = 100


_DIACRITICS = re.compile(
    "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _DIACRITIC_RANGES) + "]"
)


def fold(text: str) -> str:
    """Lower case, compatibility-normalised, Latin diacritics removed."""
    if not text:
        return ""
    text = text.lower()
    if text.isascii():
        return text
    text = _DIACRITICS.sub("", unicodedata.normalize("NFKD", text)).translate(_EXTRA_FOLDS)
    return unicodedata.normalize("NFC", text)


def _mark_ranges() -> str:
    """A regex class body listing every combining mark (M*) and private-use char."""
    parts = []
    start = None
    for code in range(0x0300, 0x30000):
        cat = unicodedata.category(chr(code))
        inside = cat[0] == "M" or cat == "Co"
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            parts.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(parts)


_ASCII_WORD = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"(?:[^\W_]|[" + _mark_ranges() + r"])+")


def tokens(text: str) -> list[str]:
    """Split folded text into words; very long runs (binary junk) are cut."""
    text = fold(text)
    pattern = _ASCII_WORD if text.isascii() else _WORD
    return [tok[:MAX_TOKEN_CHARS] for tok in pattern.findall(text)]
