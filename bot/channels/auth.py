"""Agent tokens for the channels that serve support agents (the copilot and the reports page).

Every request carries `Authorization: Bearer <token>` with one of the configured tokens (credentials
`tokens:`, else COPILOT_TOKENS, comma-separated). Agents are identified in logs and tables by the
fingerprint of their token (`fingerprint`), never by the token itself.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Iterable, Optional


def parse_tokens(value: Any) -> tuple[str, ...]:
    """Tokens from a comma-separated string or a list; blanks dropped, order kept, no duplicates."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(dict.fromkeys(t for t in (str(i).strip() for i in items) if t))


def fingerprint(token: str) -> str:
    """The agent identity that goes into logs and the feedback table: 8 hex digits of SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class TokenChecker:
    """Checks a presented token against every configured one in constant time.

    SHA-256 digests are compared, so neither a token's length nor which token matched shows in the
    time taken; all tokens are compared on every request, with no early exit."""

    def __init__(self, tokens: Iterable[str]):
        self._known = [(hashlib.sha256(t.encode("utf-8")).digest(), fingerprint(t)) for t in tokens]

    def __bool__(self) -> bool:
        return bool(self._known)

    def agent(self, presented: Optional[str]) -> Optional[str]:
        """The fingerprint of the token `presented` matches, or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
        found: Optional[str] = None
        for known, agent in self._known:
            if hmac.compare_digest(digest, known) and found is None:
                found = agent
        return found
