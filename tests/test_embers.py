"""Chapter 5's experiment (``toylab.experiments.embers``): the rare shift's share, the
probe's rows and the training records, and bad settings named."""

import numpy as np
import pytest

from toylab.config import override
from toylab.experiments import embers
from toylab.tasks.ciphers import BANDS

TINY = {"train.max_steps": 20, "split.n_train": 400, "split.n_test": 4, "n_track": 2,
        "track_every": 10}


def test_the_rare_share_sets_one_shift_and_keeps_the_others_ratio():
    base = embers.EmbersConfig()
    assert embers.shift_shares(base) == base.split.shift_shares
    shares = dict(embers.shift_shares(override(base, {"rare_share": 0.6})))
    assert shares[2] == pytest.approx(0.6)
    assert shares[3] / shares[1] == pytest.approx(0.7 / 0.2)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert 2 not in dict(embers.shift_shares(override(base, {"rare_share": 0.0})))


def test_bad_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="not a trained shift"):
        embers.preset("shares", {"rare_shift": 5})
    with pytest.raises(ValueError, match="rare_share"):
        embers.preset("shares", {"rare_share": 1.5})
    with pytest.raises(ValueError, match="n_track"):
        embers.preset("shares", {"n_track": 500})
    embers.preset("live", {"n_track": 500})  # live runs record nothing: no check


def test_a_run_scores_every_cell_and_records_training():
    result = embers.run(embers.preset("shares", {**TINY, "rare_share": 0.3}), cache=False)
    m = result.metrics
    final = m[m.step.isna()]
    em = final[final.metric == "exact_match"]
    # every band x direction x test shift, once
    assert len(em) == len(BANDS) * 2 * 4
    assert set(em.split) == set(BANDS) and set(em["shift"]) == {1, 2, 3, 4}
    assert em.value.between(0, 1).all()
    # the shift's share of the cipher examples, as the split drew them
    share = em.groupby("shift").shift_share.first()
    assert share[4] == 0 and share[2] == pytest.approx(0.3, abs=0.06)
    assert share[[1, 2, 3]].sum() == pytest.approx(1.0, abs=1e-3)
    # training records every 10 steps (and at the end), exact match only
    steps = m[m.step.notna()]
    assert sorted(steps.step.unique()) == [10, 20] and set(steps.metric) == {"exact_match"}
    # wrong-output metrics: shares in [0, 1], log-probabilities at most 0
    wrong = final[final.metric.isin(["sentence", "more_probable"])]
    assert wrong.value.between(0, 1).all()
    assert (final[final.metric.str.startswith("model_logp")].value <= 1e-6).all()
    # every wrong decoding's kind is what the language's exact probabilities say
    wrong = embers.wrong_outputs(result, n=1000)
    assert len(wrong) > 0
    for i, row in wrong.iterrows():
        mine = embers.sentence_logprob(result, row.output)
        right = embers.sentence_logprob(result, row.target)
        truth = ("not a sentence" if not np.isfinite(mine) else
                 "more probable" if mine > right else "less probable")
        assert embers.wrong_kind(result, i) == truth
    assert np.isfinite(embers.gap(result))
