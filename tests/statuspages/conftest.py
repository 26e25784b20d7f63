"""Fixtures shared by the status page tests: the services, the simulator and the fresh cache come from
tests/conftest.py; sources, users, teams, pages and components from tests/factories.py."""
