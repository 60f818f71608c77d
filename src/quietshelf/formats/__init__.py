"""Date formats: one per language, everywhere (issue 17 item 7).

Django's English defaults mix "Dec. 7, 2027" (DATE_FORMAT) with the ISO dates the pages
write explicitly; here every language writes dates as ISO 8601 (2026-12-07), which the
desk, the receipts and the catalogue already use. Numbers keep Django's per-language
formats (FORMAT_MODULE_PATH falls back to them).
"""
