"""SHARED_CACHE_ALIAS must name an entry of CACHES: a missing one fails loudly instead of falling back to the
default cache, which without Redis is each process's own memory (devops_insights.shared_cache)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import InvalidCacheBackendError
from django.core.checks import run_checks

from devops_insights.shared_cache import is_default_cache, shared_cache


def test_it_fails_the_system_check_when_the_alias_names_no_cache(settings: Any) -> None:
    settings.SHARED_CACHE_ALIAS = "elsewhere"

    [error] = [message for message in run_checks() if message.id == "devops_insights.E001"]

    assert error.is_serious()
    assert "'elsewhere'" in error.msg


def test_it_passes_the_system_check_as_configured() -> None:
    assert [message for message in run_checks() if message.id == "devops_insights.E001"] == []


def test_it_raises_rather_than_share_through_a_process_own_cache(settings: Any) -> None:
    settings.SHARED_CACHE_ALIAS = "elsewhere"

    with pytest.raises(InvalidCacheBackendError):
        shared_cache()


def test_it_says_the_shared_cache_is_the_default_one_only_when_the_alias_names_it(settings: Any) -> None:
    assert not is_default_cache()  # without REDIS_URL, as the tests run: the database table
    settings.SHARED_CACHE_ALIAS = "default"
    assert is_default_cache()
