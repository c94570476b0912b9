"""Feedback on FAQ answers, kept for the knowledge base's owners.

Two sources: agents' verdicts on copilot suggestions ("used" / "wrong", table
`suggestion_feedback`, migration 0002) and users' "有帮助 / 没帮助" on the assistant's answers
(table `answer_feedback`, migration 0003). Both share `bot.storage.models`' declarative base (one
metadata, one Alembic history). The agent is stored as the fingerprint of their copilot token
(`bot.channels.auth.fingerprint`), never the token; a user's question is stored masked
(`bot.storage.privacy.mask_text`) by the caller.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Column, Index, Integer, String, Text
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


class AnswerFeedback(Base):
    """One user's verdict on one FAQ answer, with the question the answer was for."""

    __tablename__ = "answer_feedback"
    # Serves the reports: how did topic X do lately?
    __table_args__ = (Index(None, "topic", "created_at"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False)  # the Rasa sender id
    channel: Mapped[str] = Column(String(32), nullable=False, default="", server_default="")
    topic: Mapped[str] = Column(String(100), nullable=False)
    question: Mapped[str] = Column(Text, nullable=False)  # the user's own words, phone/e-mail masked
    helpful: Mapped[bool] = Column(Boolean, nullable=False)
    created_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:  # no question: reprs end up in logs
        return f"<AnswerFeedback {self.id} {self.topic} {'helpful' if self.helpful else 'unhelpful'}>"


def add_answer_feedback(session: Session, *, conversation_id: str, channel: str, topic: str, question: str,
                        helpful: bool) -> AnswerFeedback:
    """Store one verdict (flushed, so its id is known); the caller masks the question and commits."""
    feedback = AnswerFeedback(conversation_id=conversation_id, channel=channel or "", topic=topic,
                              question=question, helpful=helpful)
    session.add(feedback)
    session.flush()
    return feedback
