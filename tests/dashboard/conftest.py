"""Fixtures shared by the dashboard tests: test clients of members of the default team (which owns what
``make_source`` makes): a viewer, and an admin who is also staff (the admin site needs the staff flag)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from tests.factories import member


@pytest.fixture
def user_client(client: Client) -> Client:
    return member(client, role=Role.VIEWER, username="grace")


@pytest.fixture
def staff_client(client: Client) -> Client:
    return member(client, role=Role.ADMIN, username="ops", staff=True)
