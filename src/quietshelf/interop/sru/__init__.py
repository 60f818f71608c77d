"""SRU 1.2 and 2.0 server."""
