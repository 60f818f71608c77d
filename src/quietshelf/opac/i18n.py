"""The public pages' language choice lives in core.i18n now (one layer down, so core's error
pages and the privacy office's public pages use it without importing the OPAC, #14)."""

from quietshelf.core.i18n import query_language

__all__ = ["query_language"]
