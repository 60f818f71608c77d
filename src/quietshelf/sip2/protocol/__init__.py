"""SIP2 2.00 as pure Python: parse and format messages, checksums, field tables.

No Django here: the server and handlers one layer up turn messages into
service calls.
"""
