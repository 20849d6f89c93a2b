"""Principals, API tokens and the one permission table (roles x permissions)."""
