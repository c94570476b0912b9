from bot.ranking import read


def parse(intent, conf, faq=(), ranking=None):
    return {
        "intent": {"name": intent, "confidence": conf},
        "intent_ranking": ranking or [{"name": intent, "confidence": conf}],
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in faq]}},
    }


def test_confident_faq_is_answered():
    r = read(parse("faq", 0.99, [("a", 0.8), ("b", 0.1)]), threshold=0.5)
    assert r.answer == "a" and r.ranking[:2] == ("a", "b")


def test_unsure_faq_offers_candidates():
    r = read(parse("faq", 0.99, [("a", 0.3), ("b", 0.2), ("c", 0.1)]), threshold=0.5)
    assert r.answer is None and r.faq_candidates == ("a", "b", "c")


def test_fallback_is_not_an_answer_but_keeps_the_ranking():
    p = parse("nlu_fallback", 0.4, [("a", 0.6)], ranking=[
        {"name": "nlu_fallback", "confidence": 0.4}, {"name": "greet", "confidence": 0.3},
        {"name": "faq", "confidence": 0.2}])
    r = read(p, threshold=0.5)
    assert r.answer is None and r.ranking == ("greet", "a")


def test_other_intents_answer_with_their_name():
    assert read(parse("greet", 0.9), threshold=0.5).answer == "greet"


def test_missing_fields_do_not_raise():
    assert read({}, threshold=0.5).answer is None
