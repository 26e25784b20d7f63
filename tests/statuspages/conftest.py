"""Fixtures shared by the status page feed, summary and badge tests: the services and the fresh cache
come from tests/conftest.py; pages, components, incidents and maintenance from tests/factories.py."""
