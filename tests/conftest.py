"""Shared fixtures: the real knowledge base and repo paths."""
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.faq.kb import load_kb


@pytest.fixture(scope="session")
def kb():
    return load_kb(ROOT / "faq")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session", autouse=True)
def _own_tracker_store(tmp_path_factory):
    """Servers started by the tests keep their conversations in this run's own SQLite file,
    not in the developer's var/tracker.db (a test may still pass TRACKER_STORE_URL itself)."""
    import os

    previous = os.environ.get("TRACKER_STORE_URL")
    if previous is None:
        os.environ["TRACKER_STORE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('tracker') / 'tracker.db'}"
    yield
    if previous is None:
        os.environ.pop("TRACKER_STORE_URL", None)
