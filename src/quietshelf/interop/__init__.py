"""Metadata exchange (INT-3): an OAI-PMH 2.0 provider (oai/) and an SRU server (sru/).

A services-layer app: it reads the catalogue (catalog.selectors, the MARC
writer, the search backend) and is never imported by it. Only public data
leaves through it (publicdata.py).
"""
