"""Entity extraction with spaCy: `spacy.blank("zh")` segmented by jieba, plus an EntityRuler.

No pretrained spaCy model can be downloaded here, so the ruler carries the knowledge: a small pipe
first merges each span our patterns find into one token (jieba would split `粤ICP备12345678号-1`
into seven), then the EntityRuler labels tokens by pattern. Values are canonicalized
(`粤` → 广东, `icp2026…` → `ICP2026…`), and a province is also read off an ICP number's prefix.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.nlu import patterns

logger = logging.getLogger(__name__)

DICT_DIR = Path(__file__).resolve().parent / "dict"
MERGER = "icp_span_merger"


def _merge_spans(doc):
    """Make each pattern match one token, so the ruler's token patterns see it whole."""
    spans = []
    for _, regex in patterns.LABELLED_PATTERNS:
        for m in regex.finditer(doc.text):
            span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
            if span is not None and len(span) > 1:
                spans.append(span)
    from spacy.util import filter_spans

    with doc.retokenize() as retokenizer:
        for span in filter_spans(spans):
            retokenizer.merge(span)
    return doc


def _ruler_patterns() -> list[dict]:
    """One token pattern per label: the token's whole text matches that label's regex."""
    return [
        {"label": label, "pattern": [{"TEXT": {"REGEX": rf"(?i)^(?:{regex.pattern})$"}}], "id": label}
        for label, regex in patterns.LABELLED_PATTERNS
    ]


@lru_cache(maxsize=1)
def build_nlp():
    """The spaCy pipeline, built once per process on first use (loads jieba and its dictionary)."""
    import jieba
    import spacy
    from spacy.language import Language
    from spacy.pipeline import EntityRuler

    for path in sorted(DICT_DIR.glob("*.txt")):
        jieba.load_userdict(str(path))
    if MERGER not in Language.factories:
        # spaCy's annotation says Pipe, but a plain function of a Doc is what `component` registers.
        Language.component(MERGER, func=_merge_spans)  # type: ignore[arg-type]
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(MERGER)
    ruler: EntityRuler = nlp.add_pipe("entity_ruler")  # type: ignore[assignment]  # typed as any Pipe
    ruler.add_patterns(_ruler_patterns())
    return nlp


def extract(text: str) -> list[dict[str, Any]]:
    """Entities in Rasa's shape (entity, value, start, end) for already-normalized text."""
    if not text or not text.strip():
        return []
    doc = build_nlp()(text)
    found: list[dict[str, Any]] = []
    for ent in doc.ents:
        value = patterns.canonical(ent.label_, ent.text)
        if value is None:
            continue
        found.append({"entity": ent.label_, "value": value, "start": ent.start_char, "end": ent.end_char})
        if ent.label_ == "icp_number":
            province = patterns.PROVINCE_BY_ABBR.get(value[0])
            found.append(
                {"entity": "province", "value": province, "start": ent.start_char, "end": ent.start_char + 1}
            )
    return found
