import math

import numpy as np
import pytest

from bot import calibration as cal
from bot.calibration import Calibration


def parse(top, second=0.0, diet=1.0, selector=None, text="备案要多久"):
    faq = {"ranking": [{"intent_response_key": "faq/a", "confidence": top},
                       {"intent_response_key": "faq/b", "confidence": second}]}
    if selector is not None:
        faq["selector_ranking"] = [{"intent_response_key": f"faq/{t}", "confidence": c} for t, c in selector]
    return {"text": text, "intent": {"name": "faq", "confidence": diet},
            "intent_ranking": [{"name": "faq", "confidence": diet}, {"name": "greet", "confidence": 1 - diet}],
            "response_selector": {"faq": faq}}


def test_features_read_the_parse():
    f = cal.features(parse(0.8, 0.1, diet=0.9, selector=[("b", 0.6), ("a", 0.3)]))
    assert f["top"] == pytest.approx(math.log(0.8 / 0.2))
    assert f["margin"] == pytest.approx(0.7)
    assert f["agree"] == 0.0 and f["selector"] == pytest.approx(math.log(0.3 / 0.7))
    assert f["diet_faq"] == pytest.approx(math.log(0.9 / 0.1))
    assert cal.features(parse(0.8, selector=[("a", 0.9)]))["agree"] == 1.0


def test_features_of_an_empty_parse_are_finite():
    assert all(math.isfinite(v) for v in cal.features({}).values())


def test_the_stored_calibration_is_a_probability_in_every_corner():
    c = cal.stored()
    for p in (parse(1.0, 0.0, diet=1.0), parse(0.0, 0.0, diet=0.0), parse(0.5, 0.5, diet=0.5), {}):
        assert 0.0 <= c.confidence(p) <= 1.0
    assert 0.5 < c.threshold < 1.0  # a bar for ≥ 99 % precision sits high on a calibrated scale


def test_the_stored_calibration_is_monotone_in_every_piece_of_evidence():
    c = cal.stored()
    assert all(w >= 0 for n, w in zip(c.names, c.coef) if n in cal.MONOTONE)
    tops = [c.confidence(parse(t, 0.0)) for t in np.linspace(0.05, 1.0, 40)]
    assert all(a <= b for a, b in zip(tops, tops[1:]))
    margins = [c.confidence(parse(0.6, s)) for s in np.linspace(0.4, 0.0, 20)]  # the lead grows
    assert all(a <= b for a, b in zip(margins, margins[1:]))
    diets = [c.confidence(parse(0.9, 0.05, diet=d)) for d in np.linspace(0.3, 1.0, 20)]
    assert all(a <= b for a, b in zip(diets, diets[1:]))


def test_the_stored_calibration_looks_beyond_the_top_score():
    # Same blended top score, different lead: the close race must be less sure, and it must
    # matter for answering. Fails if the calibration only rescales the top score.
    c = cal.stored()
    clear, close = parse(0.55, 0.05), parse(0.55, 0.44)
    assert c.confidence(clear) > c.confidence(close) + 0.1
    # And DIET's opinion that this is an FAQ question at all counts.
    assert c.confidence(parse(0.9, 0.05, diet=1.0)) > c.confidence(parse(0.9, 0.05, diet=0.5))


def test_json_round_trip_keeps_every_decision():
    c = Calibration(("top", "margin"), (0.25, 6.0), -2.9, 0.9452678180233793, "note")
    back = Calibration.from_json(c.to_json())
    assert back == c


def test_fit_learns_the_evidence_that_separates_right_from_wrong():
    rng = np.random.default_rng(0)
    margins = rng.uniform(0, 1, 400)
    rows = [{"top": 0.0, "margin": m, "agree": 1.0} for m in margins]
    right = list(rng.uniform(0, 1, 400) < margins)
    coef, _ = cal.fit(rows, right, ["top", "margin"])
    assert coef[1] > 1.0 and coef[0] == 0.0  # a constant feature gets no weight


def test_fit_drops_a_monotone_feature_that_comes_out_backwards():
    rng = np.random.default_rng(1)
    rows = [{"margin": m, "agree": float(m < 0.5)} for m in rng.uniform(0, 1, 300)]
    right = [r["margin"] > 0.4 for r in rows]  # `agree` is anti-correlated with being right here
    coef, _ = cal.fit(rows, right, ["margin", "agree"])
    assert coef[1] == 0.0 and coef[0] > 0


def test_operating_threshold_is_the_lowest_bar_reaching_the_precision():
    confidences = [0.99, 0.98, 0.97, 0.96, 0.5, 0.4]
    right = [True, True, True, False, True, False]
    assert cal.operating_threshold(confidences, right, precision=1.0) == 0.97
    assert cal.operating_threshold(confidences, right, precision=0.75) == 0.5
    assert cal.precision_coverage(confidences, right, 0.97) == (1.0, 0.5, 3)
    assert cal.operating_threshold([0.9], [False]) == 1.0


def test_reliability_bins_count_everything_once():
    confidences = [0.0, 0.3, 0.6, 0.95, 0.99, 1.0]
    rows = cal.reliability(confidences, [False, False, True, True, True, True])
    assert sum(r[2] for r in rows) == len(confidences)
    assert rows[-1][:3] == (0.99, 1.0, 2) and rows[-1][4] == 1.0
    assert rows[0][2] == 2 and rows[0][4] == 0.0
    table = cal.render_reliability(rows)
    assert "[0.99, 1.00]" in table and len(table.splitlines()) == len(rows) + 1


def test_reliability_diagram_is_written(tmp_path):
    rows = cal.reliability([0.2, 0.7, 0.97, 0.99], [False, True, True, True])
    path = cal.plot_reliability(rows, tmp_path / "r.png", threshold=0.95)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fitting_on_the_held_out_set_is_refused():
    with pytest.raises(SystemExit):
        cal.main(["fit", "tests/heldout/process.yml"])
