"""Fixtures shared by the boards tests: users, teams, sources and boards come from tests/factories.py."""
