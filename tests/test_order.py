"""Chapter 6's task families and experiment module: the families' answers, the split, the
schedules and the shape of their results.

Runs here are short (a few dozen steps): they check what a schedule records, not what
the model learns; ``test_findings_order`` checks that.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.experiments import order
from toylab.experiments.order import (
    JOINT,
    ORDERS,
    letter_entropy,
    orders,
    preset,
)
from toylab.splits import make_split
from toylab.sweep import available, load_spec
from toylab.tasks import make_task
from toylab.tasks.families import GEN, FamilyConfig, FamilySplitConfig

QUICK = {"phase_steps": 12, "curve_every": 6, "split.n_train": 200, "split.n_test": 16,
         "seed": 3}
TRAIN = ("train.batch_size", "train.lr", "train.threads")


def quick(**changes):
    return order.run(preset("order", {**QUICK, **changes}), cache=False)


# --- the families ---------------------------------------------------------------------


def test_structured_answers_and_the_control_are_what_the_docstring_says():
    task = make_task(FamilyConfig(gen="control"))
    assert task.solve("B A D H [rot3]".split()) == ["E", "D", "G", "C", "<eos>"]
    assert task.solve("B A D H [reverse]".split()) == ["H", "D", "A", "B", "<eos>"]
    # the control copies fixed positions: the prompt moved one place left
    assert task.solve("B A D H [gen]".split()) == ["A", "D", "H", "B", "<eos>"]
    assert task.valid("B A D H [gen]".split(), "A D H B <eos>".split())


def test_open_answers_are_valid_varied_and_have_no_single_solution():
    task = make_task(FamilyConfig())
    with pytest.raises(ValueError, match="many right answers"):
        task.solve("B A D H [gen]".split())
    ex = task.sample(task.grid()[-1], 400, np.random.default_rng(0), "train", salt=1)
    answers = set()
    for prompt, target in zip(ex.prompts(), ex.targets()):
        p, t = task.vocab.decode(prompt), task.vocab.decode(target)
        assert task.valid(p, t)
        answers.add(tuple(t))
    assert len(answers) > 300  # fresh random answers, not one per prompt
    assert not task.valid("B A D H [gen]".split(), "B A D C <eos>".split())
    assert not task.valid("B A D H [gen]".split(), "B A D <eos>".split())


def test_open_family_and_control_share_every_prompt_and_nothing_leaks():
    splits = {gen: make_split(make_task(FamilyConfig(gen=gen)), FamilySplitConfig(), 5)
              for gen in ("open", "control")}
    a, b = splits["open"], splits["control"]
    for name in ("rot3", "reverse"):
        assert np.array_equal(a.pools[name].tokens, b.pools[name].tokens)
    k = 5  # prompt: 4 letters and the tag
    for part in ("pools", "tests"):
        assert np.array_equal(getattr(a, part)[GEN].tokens[:, :k],
                              getattr(b, part)[GEN].tokens[:, :k])
    for split in splits.values():
        split.check_no_leakage()
        train = {tuple(r[:4]) for r in split.train.tokens.tolist()}
        for ex in split.tests.values():  # no test string was trained in any family
            assert not train & {tuple(r[:4]) for r in ex.tokens.tolist()}


def test_letter_entropy_is_the_entropy_of_the_prompt_letters():
    x = np.array([[0, 1, 2, 3], [0, 0, 1, 1], [2, 2, 2, 2]])
    assert np.allclose(letter_entropy(x), [np.log(4), np.log(2), 0.0])


@pytest.mark.parametrize("bad, match", [
    ({"task.gen": "free"}, "gen must be one of"),
    ({"task.structured": ["rot3", "rot3"]}, "different letter"),
    ({"task.structured": ["gen"]}, "names the open-ended family"),
    ({"order": "rot3>gen"}, "order must be one of"),
    ({"order": JOINT, "replay": 0.1}, "replay must be 0"),
    ({"replay": 0.95}, "replay must be in"),
    ({"phase_steps": 5}, "phase_steps must be in"),
    ({"samples": 1}, "samples must be in"),
])
def test_bad_configs_say_what_is_allowed(bad, match):
    with pytest.raises(ValueError, match=match):
        preset("order", bad)


def test_orders_are_every_permutation():
    assert orders(("a", "b", "c")) == ["a>b>c", "a>c>b", "b>a>c", "b>c>a", "c>a>b",
                                       "c>b>a"]
    assert len(ORDERS) == 6 and JOINT not in ORDERS


# --- the schedules --------------------------------------------------------------------


def test_a_sequential_run_records_the_matrix_after_every_phase_and_the_curves():
    result = quick(order="reverse>gen>rot3", replay=0.3)
    m = result.metrics
    phase = m[m.probe == "phase"]
    assert sorted(phase.stage.unique()) == [0, 1, 2, 3]
    assert list(phase.groupby("stage").trained.first()) == ["init", "reverse", "gen",
                                                             "rot3"]
    assert sorted(phase.step.unique()) == [0, 12, 24, 36]
    assert list(dict.fromkeys(result.history.phase)) == ["reverse", "gen", "rot3"]
    score = phase[phase.metric == "score"]
    assert len(score) == 4 * 3 and score.value.between(0, 1).all()
    assert set(phase[phase.split == GEN].metric) >= {"validity", "diversity", "entropy",
                                                     "score"}
    assert {"wrong_other_family", "wrong_gen_like"} <= set(phase[phase.split == "rot3"]
                                                           .metric)
    curve = m[m.probe == "curve"]
    assert sorted(curve.step.unique()) == list(range(0, 37, 6))
    assert set(curve[curve.split == GEN].metric) == {"entropy"}  # open: no one answer
    assert m.order.eq("reverse>gen>rot3").all() and m.replay.eq(0.3).all()


def test_joint_training_runs_as_many_steps_on_the_mixture():
    result = quick(order=JOINT, **{"task.gen": "control"})
    assert result.info["steps"] == 3 * QUICK["phase_steps"]
    phase = result.metrics[result.metrics.probe == "phase"]
    assert sorted(phase.stage.unique()) == [0, 1]
    assert set(phase[phase.split == GEN].metric) >= {"exact_match", "score"}


def test_recording_does_not_change_training():
    """The curves are measured inside the loss under no_grad: a run without them trains
    the same model."""
    with_curves = quick(order="gen>rot3>reverse")
    without = quick(order="gen>rot3>reverse", curve_every=0)
    a, b = (r.metrics[r.metrics.probe == "phase"].reset_index(drop=True)
            for r in (with_curves, without))
    pd.testing.assert_frame_equal(a, b)


def test_runs_repeat_exactly_and_come_back_from_the_cache(tmp_path):
    cache = Cache(tmp_path)
    cfg = preset("order", {**QUICK, "order": "rot3>gen>reverse", "replay": 0.1})
    first = order.run(cfg, cache=cache)
    again = order.run(cfg, cache=False)
    pd.testing.assert_frame_equal(first.metrics, again.metrics)
    pd.testing.assert_frame_equal(first.metrics, order.run(cfg, cache=cache).metrics)


def test_shipped_sweeps_name_this_module_and_enough_seeds():
    names = [n for n in available() if n.startswith("order_")]
    assert set(names) == set(order.SWEEPS.values())
    for name in names:
        spec = load_spec(name)
        assert spec.experiment == "toylab.experiments.order"
        assert spec.preset in order.PRESETS and len(spec.seeds) >= 5
        assert spec.jobs()
    # the paired comparisons (orders, joint, the entropy control) rest on 10 seeds
    assert len(load_spec("order_replay").seeds) >= 10
    assert len(load_spec("order_joint").seeds) >= 10


def test_the_live_panels_train_what_the_sweeps_trained():
    """The live preset differs from the sweeps' only in torch threads."""
    live, swept = preset("live"), preset("order")
    assert live.train.threads == 2 and swept.train.threads == 1
    assert live == preset("order", {"train.threads": 2})


def test_every_panel_slider_combination_is_a_valid_config():
    for spec in order.EXPERIMENT.panels.values():
        base = order.preset(spec.preset, spec.changes)
        for values in itertools.product(*spec.sliders.values()):
            preset(spec.preset, dict(zip(spec.sliders, values)))
        assert base.total_steps == 600


def test_replay_mixes_the_earlier_families_into_every_later_phase():
    exp = order.EXPERIMENT
    cfg = preset("order", {**QUICK, "order": "rot3>reverse>gen", "replay": 0.25})
    task, split = exp.data(cfg)
    phases = exp.phases(cfg, task, split)
    tag = {name: task.vocab.index[f"[{name}]"] for name in task.families}
    seen = []
    for phase, family in zip(phases, ["rot3", "reverse", "gen"]):
        tags = phase.data["tokens"][:, task.config.length].numpy()
        assert phase.train.max_steps == QUICK["phase_steps"]
        assert phase.train.target_accuracy is None  # no early stop: same length
        own = (tags == tag[family]).mean()
        assert own == (1.0 if not seen else 0.75)
        assert set(tags) == {tag[f] for f in [*seen, family]}
        seen.append(family)


def test_bwt_and_the_additive_prediction_on_a_known_matrix():
    """Two orders' matrices written by hand: BWT is GEM's, and a family trained first is
    predicted from the pairwise transfer measured in the other orders."""
    rows = []
    # R after each phase for a>b>c, per family (a, b, c)
    ladders = {"rot3>reverse>gen": [(0, 0, 0), (1, 0, 0), (0.6, 1, 0), (0.3, 0.5, 0.8)],
               "rot3>gen>reverse": [(0, 0, 0), (1, 0, 0), (0.7, 0, 0.8), (0.4, 1, 0.5)]}
    for o, ladder in ladders.items():
        for stage, values in enumerate(ladder):
            for fam, v in zip(("rot3", "reverse", "gen"), values):
                rows.append({"order": o, "gen": "open", "replay": 0.0, "seed": 0,
                             "probe": "phase", "stage": stage, "split": fam,
                             "metric": "score", "value": v})
    m = pd.DataFrame(rows)
    bwt = order.bwt_rows(m).set_index("order").bwt
    # GEM: mean over the first T-1 families of R[T, i] - R[i, i]
    assert bwt["rot3>reverse>gen"] == pytest.approx(((0.3 - 1) + (0.5 - 1)) / 2)
    assert bwt["rot3>gen>reverse"] == pytest.approx(((0.4 - 1) + (0.5 - 0.8)) / 2)
    pair = order.pairwise_transfer(m).set_index(["earlier", "later"]).b
    assert pair["rot3", "reverse"] == pytest.approx(-0.4)
    assert pair["rot3", "gen"] == pytest.approx(-0.3)
    pred = order.predictions(m).set_index(["order", "split"])
    # rot3 first in rot3>reverse>gen: 1 + b[reverse, rot3] + b[gen, rot3] = 0.3
    assert pred.loc[("rot3>reverse>gen", "rot3"), "predicted"] == pytest.approx(0.3)
    assert pred.loc[("rot3>reverse>gen", "rot3"), "observed"] == pytest.approx(0.3)
    # the last family keeps what it reached
    assert pred.loc[("rot3>reverse>gen", "gen"), "predicted"] == pytest.approx(0.8)


def test_measure_scores_a_model_that_knows_the_answers():
    """An oracle 'model' that puts all its probability on the right next token scores 1
    on every family with one answer and has zero entropy."""
    import torch

    cfg = preset("order", {**QUICK, "task.gen": "control"})
    task, split = order.EXPERIMENT.data(cfg)
    lookup = {}
    for ex in split.tests.values():
        for row in ex.tokens.tolist():
            for t in range(1, len(row)):
                lookup[tuple(row[:t])] = row[t]

    class Oracle(torch.nn.Module):
        def forward(self, x):
            out = torch.full((*x.shape, len(task.vocab)), -30.0)
            for i, row in enumerate(x.tolist()):
                for t in range(len(row)):
                    out[i, t, lookup.get(tuple(row[:t + 1]), 0)] = 30.0
            return out

    rows = pd.DataFrame(order.measure(Oracle(), task, split.tests, 4,
                                      torch.Generator().manual_seed(0)))
    value = rows.set_index(["split", "metric"]).value
    for family in task.families:
        assert value[family, "score"] == 1.0 and value[family, "entropy"] < 1e-6
        assert value[family, "wrong_other_family"] == 0.0
    assert value[GEN, "validity"] == 1.0
    # four samples of one answer: one distinct string of the (up to 4) possible
    assert value[GEN, "diversity"] < 0.5


def test_views_draw_a_quick_run_and_the_shipped_tables():
    result = quick(order="rot3>reverse>gen")
    live = result.metrics
    f = order.frames()
    narrow = {"order": "rot3>reverse>gen", "gen": "open"}
    panel = f["panel"][(f["panel"].order == narrow["order"])
                       & (f["panel"].gen == "open")]
    order.replay_view(panel, live=live).to_dict()
    m = f["matrix"]
    matrix = m[(m.order == narrow["order"]) & (m.gen == "open") & (m.replay == 0.2)]
    order.matrix_view(matrix, live=live).to_dict()
    order.schedules_view(f["final"]).to_dict()
    order.entropy_view(pd.concat([f["curves"], f["joint"]])).to_dict()
    order.mechanism_view(f["replay"]).to_dict()
    order.prediction_view(order.predictions(f["matrix"])).to_dict()
    with pytest.raises(ValueError, match="one order"):
        order.matrix_view(f["matrix"])
