"""Agents' verdicts on copilot suggestions ("used" / "wrong"), kept for the knowledge base's owners.

The model shares `bot.storage.models`' declarative base (one metadata, one Alembic history);
its table is created by migration 0002. The agent is stored as the fingerprint of their copilot
token (`bot.channels.copilot.fingerprint`), never the token.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, validates

from bot.storage.models import Base, UtcDateTime, utcnow

VERDICTS: tuple[str, ...] = ("used", "wrong")


class SuggestionFeedback(Base):
    """One agent's verdict on one suggested FAQ topic for one customer message."""

    __tablename__ = "suggestion_feedback"
    __table_args__ = (
        CheckConstraint(f"verdict IN ({', '.join(repr(v) for v in VERDICTS)})", name="verdict"),
        # Serves the content owners' question: what happened to topic X lately?
        Index(None, "topic", "created_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    agent: Mapped[str] = Column(String(16), nullable=False)  # token fingerprint
    topic: Mapped[str] = Column(String(100), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)  # the customer message the suggestion was for
    verdict: Mapped[str] = Column(String(8), nullable=False)
    conversation_id: Mapped[Optional[str]] = Column(String(255))
    created_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)

    @validates("verdict")
    def _check_verdict(self, key: str, value: str) -> str:
        if value not in VERDICTS:
            raise ValueError(f"unknown verdict {value!r}")
        return value

    def __repr__(self) -> str:
        return f"<SuggestionFeedback {self.id} {self.topic} {self.verdict}>"


def add_feedback(session: Session, *, agent: str, topic: str, text: str, verdict: str,
                 conversation_id: Optional[str] = None) -> SuggestionFeedback:
    """Store one verdict (flushed, so its id is known); the caller's session commits."""
    feedback = SuggestionFeedback(agent=agent, topic=topic, text=text, verdict=verdict,
                                  conversation_id=conversation_id)
    session.add(feedback)
    session.flush()
    return feedback
