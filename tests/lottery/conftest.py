from __future__ import annotations

import pytest

from tests.lottery.factories import officer


@pytest.fixture
def after_cutoff(clock, campaign):
    """The seeded campaign with the clock after the period and the data cut-off."""
    clock("2026-04-15T10:00:00+09:00")
    return campaign


@pytest.fixture
def alice(db):
    return officer("alice")


@pytest.fixture
def bob(db):
    return officer("bob")


@pytest.fixture
def carol(db):
    return officer("carol")
