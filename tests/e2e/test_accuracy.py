"""The trained model on the held-out questions (never trained on): the build fails below 90 % top-1."""
from bot.config import ROOT
from bot.evaluate import evaluate

MODEL = ROOT / "models" / "current.tar.gz"
FLOOR = 0.90


def test_held_out_accuracy(kb):
    report = evaluate(MODEL, [ROOT / "tests" / "heldout"], kb, threshold=0.5)
    print(report.render())
    assert report.total >= 3 * len(kb.topics) + 50
    assert report.top1_accuracy >= FLOOR, report.render()
    assert report.top3_accuracy >= report.top1_accuracy
