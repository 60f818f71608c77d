"""OAI-PMH 2.0 provider: protocol (pure), repository (reads), xml (rendering), provider (glue)."""
