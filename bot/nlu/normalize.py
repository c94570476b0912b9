"""Text normalization shared by the NLU pipeline, the FAQ checker and the channels.

Users type full-width letters, traditional characters, emoji and stray whitespace; the model was
trained on one canonical form, so every message is brought to it before tokenization.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_CHARS = 500
_DELETE = {"Cc", "Cf", "Cs", "Co", "Cn"}  # controls, zero-width marks, surrogates, unassigned
_BLANK = {"So", "Sk"}  # emoji and other pictographs separate words like a space
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: building the converter reads its dictionaries

    return opencc.OpenCC("t2s")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    out = []
    for c in text:
        category = unicodedata.category(c)
        if c.isspace() or category in _BLANK:
            out.append(" ")
        elif category not in _DELETE:
            out.append(c)
    return _SPACE.sub(" ", _t2s().convert("".join(out))).strip()


def normalize(text: object, max_chars: int = MAX_CHARS) -> str:
    """Half-width, simplified, emoji- and control-free, single-spaced, at most `max_chars` long.

    Total (never raises for any input) and idempotent: normalize(normalize(x)) == normalize(x).
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    # Conversions can expose new work (NFKC after t2s, a cut that leaves trailing space): iterate
    # to a fixed point, which in practice is reached at the second pass.
    for _ in range(4):
        cleaned = _clean(text)[:max_chars].strip()
        if cleaned == text:
            break
        text = cleaned
    return text
