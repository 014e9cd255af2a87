import numpy as np
import pytest
import torch
import torch.nn as nn

from toylab.evaluate import EvalConfig, bleu, edit_distance, evaluate, greedy_decode, score
from toylab.splits import make_split
from toylab.tasks import LetterConfig, make_task
from toylab.tasks import LetterSplitConfig as SplitConfig


class Oracle(nn.Module):
    """Predicts the next token of a known table of full sequences (prompt -> target)."""

    def __init__(self, sequences, vocab_size):
        super().__init__()
        self.table = {tuple(s[:i]): s[i] for s in sequences for i in range(1, len(s))}
        self.vocab_size = vocab_size

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab_size)
        for b, row in enumerate(idx.tolist()):
            for t in range(len(row)):
                logits[b, t, self.table.get(tuple(row[:t + 1]), 1)] = 1.0
        return logits


def test_metrics_on_known_pairs():
    assert score(list("ABCD"), list("ABCD")) == {"exact_match": 1.0, "edit_distance": 0.0,
                                                 "bleu": pytest.approx(1.0)}
    s = score(list("ABCD"), list("ABCE"))
    assert s["exact_match"] == 0.0 and s["edit_distance"] == 0.25 and 0 < s["bleu"] < 1
    assert edit_distance([], []) == 0.0 and bleu(("A",), ()) == 0.0
    assert score(list("ABCD"), list("ABCDEFGH"))["edit_distance"] == 0.5


def test_a_perfect_model_scores_perfectly_and_an_eos_model_scores_zero():
    task = make_task(LetterConfig())
    split = make_split(task, SplitConfig(coverage=0.5, tests=("id", "cmp"), n_test=40), 0)
    seqs = [list(r[:n]) for ex in split.tests.values()
            for r, n in zip(ex.tokens, ex.length)]
    metrics, samples = evaluate(Oracle(seqs, len(task.vocab)), task, split.tests,
                                EvalConfig(n_samples=3))
    by = {(m["split"], m["part"], m["metric"]): m["value"] for m in metrics}
    for split_name in ("id", "cmp"):
        for part in ("full", "reasoning", "answer"):
            assert by[split_name, part, "exact_match"] == 1.0
            assert by[split_name, part, "edit_distance"] == 0.0
    assert len(samples) == 6 and all(s["correct"] for s in samples)
    metrics, _ = evaluate(Oracle([], len(task.vocab)), task, split.tests)
    by = {(m["split"], m["part"], m["metric"]): m["value"] for m in metrics}
    assert by["id", "full", "exact_match"] == 0.0
    assert by["id", "full", "edit_distance"] == 1.0


def test_greedy_decode_stops_at_eos_and_respects_max_new():
    seqs = [[5, 6, 7, 8, 1], [5, 9, 9, 9, 9, 9, 9, 9]]
    model = Oracle(seqs, 10)
    out = greedy_decode(model, [np.array([5, 6]), np.array([5, 9])], max_new=3, eos_id=1)
    assert out[0] == [7, 8, 1] and out[1] == [9, 9, 9]


def test_no_trace_has_no_reasoning_part():
    task = make_task(LetterConfig(trace=False))
    split = make_split(task, SplitConfig(coverage=0.5, tests=("id",), n_test=10), 0)
    metrics, _ = evaluate(Oracle([], len(task.vocab)), task, split.tests)
    assert {m["part"] for m in metrics} == {"full", "answer"}


@pytest.mark.parametrize("steps", [0, 60, 300])
def test_shortcut_decoding_equals_plain_greedy_decoding(steps):
    from toylab.config import override
    from toylab.evaluate import decode_examples
    from toylab.experiment import LAB, ExperimentConfig

    cfg = override(ExperimentConfig(), {
        "task.noise_p": 0.3, "split.tests": ["id", "cmp", "length", "noise"],
        "split.n_test": 64, "train.max_steps": max(steps, 1),
        "train.target_accuracy": None})
    if steps:
        trained = LAB.train_model(cfg)
        task, split, model = trained.task, trained.split, trained.model
    else:
        task, split = LAB.data(cfg)
        model = LAB.model(cfg, task)
    eos = task.vocab.index["<eos>"]
    for ex in split.tests.values():
        plain = greedy_decode(model, ex.prompts(), 20, eos)
        assert decode_examples(model, ex, 20, eos) == plain
