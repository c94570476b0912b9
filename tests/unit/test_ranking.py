import pytest

from bot.calibration import Calibration, stored
from bot.ranking import read

# A calibration of our own, so these tests pin read()'s logic rather than the fitted numbers.
CAL = Calibration(("top", "margin"), (1.0, 5.0), -4.0, threshold=0.9)


def parse(intent, conf, faq=(), ranking=None):
    return {
        "intent": {"name": intent, "confidence": conf},
        "intent_ranking": ranking or [{"name": intent, "confidence": conf}],
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in faq]}},
    }


def test_confident_faq_is_answered():
    r = read(parse("faq", 0.99, [("a", 0.97), ("b", 0.01)]), threshold=0.5, calibration=CAL)
    assert r.answer == "a" and r.ranking[:2] == ("a", "b")
    assert r.confidence == pytest.approx(CAL.confidence(parse("faq", 0.99, [("a", 0.97), ("b", 0.01)])))
    assert r.confidence >= CAL.threshold


def test_unsure_faq_offers_candidates():
    r = read(parse("faq", 0.99, [("a", 0.3), ("b", 0.2), ("c", 0.1)]), threshold=0.5, calibration=CAL)
    assert r.answer is None and r.faq_candidates == ("a", "b", "c")


def test_a_high_blended_score_is_not_enough_when_the_calibration_disagrees():
    # 0.8 passed the old bar (blended confidence ≥ 0.5); calibrated it is ≈ 0.71 < 0.9.
    r = read(parse("faq", 0.99, [("a", 0.8), ("b", 0.1)]), threshold=0.5, calibration=CAL)
    assert r.answer is None and 0.5 < r.confidence < CAL.threshold


def test_threshold_can_raise_the_bar_but_not_lower_it():
    clear = parse("faq", 0.99, [("a", 0.97), ("b", 0.01)])  # calibrated ≈ 0.986
    assert read(clear, threshold=0.995, calibration=CAL).answer is None
    middling = parse("faq", 0.99, [("a", 0.8), ("b", 0.1)])
    assert read(middling, threshold=0.1, calibration=CAL).answer is None
    assert read(clear, calibration=CAL).answer == "a"  # no threshold: the calibration's own


def test_fallback_is_not_an_answer_but_keeps_the_ranking():
    p = parse("nlu_fallback", 0.4, [("a", 0.6)], ranking=[
        {"name": "nlu_fallback", "confidence": 0.4}, {"name": "greet", "confidence": 0.3},
        {"name": "faq", "confidence": 0.2}])
    r = read(p, threshold=0.5, calibration=CAL)
    assert r.answer is None and r.ranking == ("greet", "a") and r.confidence is None


def test_other_intents_answer_with_their_name():
    assert read(parse("greet", 0.9), threshold=0.5).answer == "greet"


def test_missing_fields_do_not_raise():
    assert read({}, threshold=0.5).answer is None
    assert read(parse("faq", 0.9, []), threshold=0.5).answer is None


def test_the_stored_calibration_is_used_by_default():
    p = parse("faq", 1.0, [("a", 0.999), ("b", 0.0005)])
    r = read(p, threshold=0.5)
    assert r.confidence == pytest.approx(stored().confidence(p)) and r.answer == "a"
    shaky = parse("faq", 0.6, [("a", 0.45), ("b", 0.4)])
    assert read(shaky, threshold=0.0).answer is None
