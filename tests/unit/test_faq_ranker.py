import numpy as np

from bot.nlu.faq_ranker import LinearRanker, blend

TEXTS = ["管局 审核 要 多久", "管局 审核 几天", "初审 要 多久", "华为云 初审 几天", "个人 备案 材料", "个人 要 什么 材料"]
LABELS = ["faq/bureau", "faq/bureau", "faq/first", "faq/first", "faq/materials", "faq/materials"]


def test_learns_and_ranks():
    ranker = LinearRanker.fit(TEXTS, LABELS)
    probs = ranker.probabilities(["管局 要 几天", "个人 材料"])
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert ranker.labels[int(probs[0].argmax())] == "faq/bureau"
    assert ranker.labels[int(probs[1].argmax())] == "faq/materials"


def test_save_and_load_give_the_same_probabilities(tmp_path):
    ranker = LinearRanker.fit(TEXTS, LABELS)
    ranker.save(tmp_path)
    loaded = LinearRanker.load(tmp_path)
    texts = ["初审 几天", "完全 无关 的 话", ""]
    assert loaded.labels == ranker.labels
    assert np.allclose(loaded.probabilities(texts), ranker.probabilities(texts))
    assert not list(tmp_path.glob("*.pkl"))


def test_blend_weights_both_opinions():
    ranked = blend({"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.8}, weight=0.7)
    assert ranked[0][0] == "a" and abs(ranked[0][1] - 0.69) < 1e-9
    assert blend({"a": 0.4}, {"b": 0.6}, weight=0.5) == [("b", 0.3), ("a", 0.2)]
