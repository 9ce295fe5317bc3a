"""risk > x vs uplift > y at the same message volume."""

import pandas as pd
import pytest

from triggers.targeting import compare_at_same_volume, compare_rules


def _candidates():
    # risky customers are not the ones a message helps
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(6)],
                         "risk": [0.9, 0.8, 0.7, 0.2, 0.1, 0.05],
                         "predicted_uplift": [-3.0, 0.5, 1.0, 6.0, 4.0, 2.0]})


def test_same_volume_and_the_uplift_policy_predicts_more():
    out = compare_at_same_volume(_candidates(), 0.5)
    assert out["messages"] == 3
    assert out["uplift_threshold"] == pytest.approx(1.5)  # between 2.0 (picked) and 1.0 (left out)
    assert out["risk"]["predicted_extra_goals"] == pytest.approx(-0.015)
    assert out["uplift"]["predicted_extra_goals"] == pytest.approx(0.12)
    assert out["overlap"] == 0


def test_no_volume_and_unscored_rows():
    frame = _candidates()
    frame.loc[0, "predicted_uplift"] = None
    assert compare_at_same_volume(frame, 0.95)["uplift_threshold"] is None
    assert compare_at_same_volume(frame, 0.5)["candidates"] == 5


def test_per_rule():
    frame = pd.concat([_candidates().assign(rule_id="a"), _candidates().assign(rule_id="b")], ignore_index=True)
    assert set(compare_rules(frame, 0.5)) == {"a", "b"}
