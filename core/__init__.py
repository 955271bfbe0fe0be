"""Pieces every package shares: the database base, domain errors, the clock, accounts."""
