"""SRU diagnostics (info:srw/diagnostic/1/N) the server sends."""

from __future__ import annotations

MESSAGES = {
    1: "General system error",
    4: "Unsupported operation",
    5: "Unsupported version",
    6: "Unsupported parameter value",
    7: "Mandatory parameter not supplied",
    8: "Unsupported parameter",
    10: "Query syntax error",
    12: "Too many characters in query",
    13: "Invalid or unsupported use of parentheses",
    16: "Unsupported index",
    19: "Unsupported relation",
    20: "Unsupported relation modifier",
    23: "Too many characters in term",
    27: "Empty term unsupported",
    28: "Masking character not supported",
    36: "Term in invalid format for index or relation",
    37: "Unsupported boolean operator",
    38: "Too many boolean operators in query",
    39: "Proximity not supported",
    46: "Unsupported boolean modifier",
    47: "Cannot process query; reason unknown",
    61: "First record position out of range",
    66: "Unknown schema for retrieval",
    71: "Unsupported record packing",
    72: "XPath retrieval unsupported",
    80: "Sort not supported",
    88: "Unsupported path for sort",
    110: "Stylesheets not supported",
}


class Diagnostic(Exception):
    """A fatal diagnostic: the request gets no records, only this."""

    def __init__(self, number: int, details: str = "", message: str | None = None):
        super().__init__(message or MESSAGES.get(number, "Diagnostic"))
        self.number = number
        self.details = details[:200]
        self.message = message or MESSAGES.get(number, "Diagnostic")

    @property
    def uri(self) -> str:
        return f"info:srw/diagnostic/1/{self.number}"
