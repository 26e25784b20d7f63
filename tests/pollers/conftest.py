"""Fixtures shared by the pollers tests (none of their own yet): the services, the simulator, `allow_loopback`
and the fresh cache come from tests/conftest.py; sources, users, clients and tokens from tests/factories.py."""
