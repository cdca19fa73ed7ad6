"""Test tiers: ``make test-unit`` runs the modules listed here (no installer runs,
no repository served over HTTP beyond a few in-process requests; under a
minute), ``make test`` runs everything."""

from __future__ import annotations

import pytest

UNIT_MODULES = {
    "tests/test_architecture.py",
    "tests/client/test_sources.py",
    "tests/client/test_arguments_fuzz.py",
    "tests/client/test_reasons.py",
    "tests/client/test_fetcher.py",
    "tests/client/test_index.py",
    "tests/ceremony/test_keys.py",
    "tests/ceremony/test_proposals.py",
    "tests/ceremony/test_review.py",
    "tests/ceremony/test_expiry_window.py",
    "tests/repo_sign/test_import.py",
    "tests/repo_sign/test_modes.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        if str(item.path.relative_to(root)) in UNIT_MODULES:
            item.add_marker(pytest.mark.unit)
