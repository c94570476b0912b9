"""A linear FAQ ranker: TF-IDF character n-grams within jieba words, multinomial logistic regression.

Why it exists beside Rasa's ResponseSelector: on our held-out set the ResponseSelector alone ranked
the right topic first for fewer questions than this linear model, and blending the two beat either
(figures in README.md). With ~40 examples a topic, a well-regularized linear model over weighted
n-grams is hard to beat; the ResponseSelector adds a differently-biased opinion.

Stored as plain arrays (no pickle), so a model archive cannot execute code when loaded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

NGRAMS = (1, 3)


def _vectorizer(vocabulary: dict[str, int] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Input is jieba tokens joined by spaces: char_wb keeps n-grams inside words, which measured
    # better than n-grams across word boundaries or word n-grams.
    return TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, lowercase=True,
                           vocabulary=vocabulary)


@dataclass
class LinearRanker:
    vectorizer: Any  # a fitted sklearn TfidfVectorizer
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray  # (labels,)
    labels: list[str]

    def __post_init__(self) -> None:
        # Sparse @ dense needs the dense side C-contiguous; `coef.T` is not, and scipy copied all of it
        # (features × 78 floats) on every message: 7 % of the Rasa server's time under load.
        self._coef_t = np.ascontiguousarray(self.coef.T)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], c: float = 50.0) -> LinearRanker:
        from sklearn.linear_model import LogisticRegression

        vectorizer = _vectorizer()
        features = vectorizer.fit_transform(texts)
        model = LogisticRegression(C=c, max_iter=3000).fit(features, list(labels))
        return cls(vectorizer, model.coef_, model.intercept_, [str(x) for x in model.classes_])

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Softmax over labels, one row per text (what LogisticRegression.predict_proba gives)."""
        scores = self.vectorizer.transform(texts) @ self._coef_t + self.intercept
        scores = np.asarray(scores)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / "ranker.npz", coef=self.coef, intercept=self.intercept,
                            idf=self.vectorizer.idf_)
        vocabulary = {k: int(v) for k, v in self.vectorizer.vocabulary_.items()}
        (directory / "ranker.json").write_text(
            json.dumps({"labels": self.labels, "vocabulary": vocabulary}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LinearRanker:
        meta = json.loads((directory / "ranker.json").read_text(encoding="utf-8"))
        arrays = np.load(directory / "ranker.npz", allow_pickle=False)
        vectorizer = _vectorizer(meta["vocabulary"])
        vectorizer.idf_ = arrays["idf"]
        return cls(vectorizer, arrays["coef"], arrays["intercept"], list(meta["labels"]))


def blend(linear: dict[str, float], selector: dict[str, float], weight: float) -> list[tuple[str, float]]:
    """weight·linear + (1−weight)·selector for every label either knows, best first."""
    keys = set(linear) | set(selector)
    scores = {k: weight * linear.get(k, 0.0) + (1 - weight) * selector.get(k, 0.0) for k in keys}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
