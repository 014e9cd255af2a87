"""The pipeline admits what the coming chapters need, shown with two small experiments
written the way a chapter writes one (new classes only, no shared module edited):

* a loss that uses a frozen reference model, the shape of DPO: SFT, then DPO on (right,
  wrong) pairs against the model as SFT left it, with a probe that reports a metric of its
  own (the log-probability margin of the right answer over the wrong one);
* a schedule in phases: task family A (ROT-3), then B (reverse) with a replay share of A,
  scored on both, with held-out split names no family declares.

Both run through ``Experiment.run``: the same cache, seeds, progress callback and tidy
result as every chapter.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from pairs import wrong_answers  # tests/pairs.py
from toylab.cache import Cache
from toylab.config import check_range
from toylab.evaluate import evaluate
from toylab.experiment import Experiment, ExperimentConfig, Phase, Trained, stream_seed
from toylab.objectives import dpo, pair_tensors, replay_mix, sequence_logprob, sft
from toylab.splits import make_split
from toylab.tasks import make_task
from toylab.train import TrainConfig
from toylab.views import bars_view

SMALL = {"task.transforms": ["rot3", "reverse"], "task.depths": [1], "task.lengths": [4],
         "task.trace": False, "split.n_train": 400, "split.n_test": 32, "split.n_val": 32,
         "train.batch_size": 16}


@dataclass(frozen=True)
class PreferenceConfig(ExperimentConfig):
    beta: float = 0.5
    dpo_steps: int = 30

    def __post_init__(self):
        super().__post_init__()
        check_range("beta", self.beta, 1e-3, 10.0)


class Preference(Experiment):
    kind = "tests.preference/1"
    config_class = PreferenceConfig
    presets = {"small": {**SMALL, "split.coverage": None,
                         "split.train_compositions": [["rot3"]], "split.tests": ["id"],
                         "train.max_steps": 60, "train.target_accuracy": None}}
    columns = {"beta": "beta"}

    def phases(self, cfg, task, split):
        pairs = pair_tensors(split.train, wrong_answers(split.train, task))
        return [Phase("sft", split.train.to_tensors(), cfg.train, sft()),
                Phase("dpo", pairs, TrainConfig(max_steps=cfg.dpo_steps, batch_size=16,
                                                target_accuracy=None), dpo(cfg.beta))]

    def probe(self, cfg, trained):
        metrics, samples = evaluate(trained.model, trained.task, trained.split.tests,
                                    cfg.eval)
        test = trained.split.tests["id"]
        pairs = pair_tensors(test, wrong_answers(test, trained.task))
        with torch.no_grad():
            margin = (sequence_logprob(trained.model, pairs["chosen"], pairs["chosen_mask"])
                      - sequence_logprob(trained.model, pairs["rejected"],
                                         pairs["rejected_mask"]))
        metrics.append({"split": "id", "part": "full", "metric": "logprob_margin",
                        "value": float(margin.mean()), "n": len(test)})
        return metrics, samples


@dataclass(frozen=True)
class ScheduleConfig(ExperimentConfig):
    replay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        check_range("replay", self.replay, 0.0, 1.0)


class Schedule(Experiment):
    kind = "tests.schedule/1"
    config_class = ScheduleConfig
    presets = {"small": {**SMALL, "train.max_steps": 40, "train.target_accuracy": None}}
    columns = {"replay": "replay"}

    def data(self, cfg):
        task = make_task(cfg.task)
        seed = stream_seed(cfg.seed, "split")
        a, b = (make_split(task, _only(cfg.split, comp), seed) for comp in ("rot3",
                                                                           "reverse"))
        # one split: family A's training set, B's as a pool for the second phase, and
        # both families' tests under names no family declares
        a.pools = {"B": b.train}
        a.tests, a.test_cells = {"A": a.tests["id"], "B": b.tests["id"]}, {
            "A": a.test_cells["id"], "B": b.test_cells["id"]}
        a.in_distribution = ("A", "B")
        a.check_no_leakage()
        return task, a

    def phases(self, cfg, task, split):
        rng = np.random.default_rng(stream_seed(cfg.seed, "split", 1))
        later = replay_mix(split.pools["B"], split.train, cfg.replay,
                           len(split.pools["B"]), rng)
        split.record["replayed_rows"] = len(later.rows() & split.train.rows())
        return [Phase("A", split.train.to_tensors(), cfg.train),
                Phase("B", later.to_tensors(), cfg.train)]

    def derived(self, cfg, trained: Trained):
        return {"replayed_rows": trained.split.record["replayed_rows"]}


def _only(split_cfg, composition):
    from dataclasses import replace

    return replace(split_cfg, coverage=None, train_compositions=((composition,),),
                   tests=("id",))


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path)


def test_a_dpo_phase_against_a_frozen_reference_runs_through_the_pipeline(cache):
    exp = Preference()
    cfg = exp.preset("small")
    calls = []
    result = exp.run(cfg, cache=cache, callback=lambda p: calls.append(p.step))
    history = result.history
    assert list(dict.fromkeys(history.phase)) == ["sft", "dpo"]
    assert history.step.tolist() == list(range(1, 60 + 30 + 1))  # steps run on
    assert max(calls) == 90
    m = result.metrics
    assert list(m.columns) == ["beta", "seed", "split", "part", "metric", "value", "n"]
    margin = m[m.metric == "logprob_margin"].value.iloc[0]
    no_dpo = exp.run(exp.preset("small", {"dpo_steps": 1}), cache=None)
    base = no_dpo.metrics[no_dpo.metrics.metric == "logprob_margin"].value.iloc[0]
    assert margin > base  # DPO moved the right answer above the wrong one
    again = exp.run(cfg, cache=cache, callback=lambda p: calls.append("again"))
    pd.testing.assert_frame_equal(result.metrics, again.metrics)
    assert "again" not in calls  # answered from the cache, nothing trained


def test_phases_with_replay_run_through_the_pipeline_and_report_new_splits(cache):
    exp = Schedule()
    results = {r: exp.run(exp.preset("small", {"replay": r}), cache=cache)
               for r in (0.0, 0.5)}
    for replay, result in results.items():
        m = result.metrics
        assert set(m.split) == {"A", "B"} and m.replay.eq(replay).all()
        assert list(dict.fromkeys(result.history.phase)) == ["A", "B"]
    assert results[0.0].metrics.replayed_rows.iloc[0] == 0
    assert 0 < results[0.5].metrics.replayed_rows.iloc[0] <= 200
    again = exp.run(exp.preset("small", {"replay": 0.5}), cache=cache)
    pd.testing.assert_frame_equal(results[0.5].metrics, again.metrics)
    # a split name no task family declares still gets a colour in the figures
    frame = pd.concat([r.metrics for r in results.values()])
    bars_view(frame, select={"replay": [0.0, 0.5]}).to_dict()
