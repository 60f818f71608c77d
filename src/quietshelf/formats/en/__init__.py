"""Date formats for this language (see quietshelf/formats/__init__.py)."""
