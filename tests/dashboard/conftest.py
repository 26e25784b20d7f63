"""Fixtures shared by the dashboard tests: test clients logged in as an ordinary user and as staff."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import logged_in


@pytest.fixture
def user_client(client: Client) -> Client:
    return logged_in(client, "grace")


@pytest.fixture
def staff_client(client: Client) -> Client:
    return logged_in(client, "ops", staff=True)
