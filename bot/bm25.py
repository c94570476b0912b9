"""A plain BM25 matcher over the training examples: the baseline the intent classifier must beat.

Okapi BM25 (k1=1.5, b=0.75) on jieba words of normalized text; a question takes the label of its
best-scoring training example. Only used for measurement (`make eval`).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence


def tokens(text: str) -> list[str]:
    import jieba

    from bot.nlu.normalize import normalize

    return [t for t in jieba.lcut(normalize(text).lower()) if t.strip()]


class BM25:
    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75):
        self.docs = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg = sum(self.lengths) / max(len(docs), 1)
        df = Counter(t for d in self.docs for t in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: Iterable[str]) -> list[float]:
        query = list(query)
        out = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.avg)
            out.append(sum(self.idf.get(t, 0.0) * doc[t] * (self.k1 + 1) / (doc[t] + norm) for t in query if t in doc))
        return out


def classify(train: Sequence[tuple[str, str]], questions: Sequence[str]) -> list[str]:
    """The label of the best BM25 match in `train` [(text, label)] for each question."""
    index = BM25([tokens(t) for t, _ in train])
    labels = [label for _, label in train]
    predictions = []
    for q in questions:
        scores = index.scores(tokens(q))
        best = max(range(len(scores)), key=scores.__getitem__) if scores and max(scores) > 0 else None
        predictions.append(labels[best] if best is not None else "nlu_fallback")
    return predictions
