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
