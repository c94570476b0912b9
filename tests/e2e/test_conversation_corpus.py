"""The conversation corpus (tests/conversations/) played through REST on real servers.

The measure of done for the dialogue: a conversation succeeds only when every turn does. The figure
that gates the suite is the held-out part's, which nobody tunes on; the full report (tuning part's
failing turns included) goes to artifacts/conversations.txt.
"""
from __future__ import annotations

import pytest

from bot import conversations, shapes
from bot.config import ROOT

CORPUS = ROOT / "tests" / "conversations"
ISSUE_CLASSES = ("values", "leave", "refuse", "complaint", "urge", "followup", "smalltalk", "polish")


@pytest.fixture(scope="module")
def results():
    corpus = conversations.load_corpus(CORPUS)
    with shapes.started("embedded", env=conversations.SERVER_ENV) as running:
        played = conversations.run(corpus, running.base)
    out = ROOT / "artifacts" / "conversations.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(conversations.report(played), encoding="utf-8")
    print(conversations.report(played))
    return played


def test_corpus_is_large_and_holds_out_a_fifth():
    corpus = conversations.load_corpus(CORPUS)
    heldout = [c for c in corpus if c.heldout]
    assert len(corpus) >= 200
    assert 0.15 <= len(heldout) / len(corpus) <= 0.25
    for name in ISSUE_CLASSES:
        assert sum(name in c.classes for c in corpus) >= 5, name


def test_heldout_conversations_succeed(results):
    figures = conversations.figures(r for r in results if r.conversation.heldout)
    assert figures.conversations >= 40
    assert figures.success >= 0.95, f"held-out conversation success {figures.success:.1%}"


def test_tuning_conversations_succeed(results):
    figures = conversations.figures(r for r in results if not r.conversation.heldout)
    failing = [r.conversation.id for r in results if not r.conversation.heldout and not r.passed]
    # A floor against regressions: the tuning part measured 91.2 % on 2026-12-02 (docs/conversations.md).
    assert figures.success >= 0.90, f"{figures.success:.1%}; failing: {failing}"
