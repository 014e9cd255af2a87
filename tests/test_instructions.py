"""Chapter 2's task family (``toylab.tasks.classify``) and experiment
(``toylab.experiments.instructions``): prompts in every instruction format, balanced
classes, held-out tasks that are really held out, and the probe's metrics."""

import numpy as np
import pytest

from toylab.config import override
from toylab.experiments import instructions
from toylab.tasks import make_task
from toylab.tasks.classify import (
    DEF,
    IN,
    OUT,
    PREDICATES,
    ClassifyCell,
    ClassifyConfig,
    ClassifySplitConfig,
    classes,
)

CFG = instructions.preset("live")


def _split(condition="full", **changes):
    cfg = override(CFG, {"task.condition": condition,
                         **{f"split.{k}": v for k, v in changes.items()}})
    task = make_task(cfg.task)
    return task, task.make_split(cfg.split, seed=3)


def test_classes_of_each_predicate():
    s = np.array([[2, 0, 2, 1], [0, 1, 3, 1], [1, 1, 1, 1]])  # C A C B, A B D B, B B B B
    assert classes("has", 2, s).tolist() == [1, 0, 0]
    assert classes("starts", 0, s).tolist() == [0, 1, 0]
    assert classes("ends", 1, s).tolist() == [1, 1, 1]
    assert classes("count", 1, s).tolist() == [1, 2, 2]
    assert classes("where", 3, s).tolist() == [0, 2, 0]


def test_prompts_in_every_format_and_the_solver():
    cell = ClassifyCell("has", "C", ("on", "up"))
    string = [0, 1, 3, 2]  # A B D C
    want = {"full": [DEF, "has", "C", "on", "up"], "simplified": [DEF, "on", "up"],
            "no_labels": [DEF, "has", "C"], "delusive": [DEF, "has", "C", "on", "up"]}
    for cond, head in want.items():
        task = make_task(override(CFG, {"task.condition": cond}).task)
        assert task.prompt(cell, string) == [*head, IN, "A", "B", "D", "C", OUT]
    task = make_task(CFG.task)
    assert task.solve(task.prompt(cell, string)) == ["up", "<eos>"]
    with pytest.raises(ValueError, match="names its answer"):
        make_task(override(CFG, {"task.condition": "simplified"}).task).solve(
            [DEF, "on", "up", IN, "A", "B", "D", "C", OUT])


def test_instances_are_class_balanced_so_the_guess_is_exact():
    task, split = _split(instances=64)
    for cell in split.train_cells[:8]:
        rows = [i for i, c in enumerate(split.train.cells) if c == cell]
        words = [task.vocab.tokens[split.train.tokens[i, split.train.prompt_len[i]]]
                 for i in rows]
        counts = [words.count(w) for w in cell.labels]
        assert max(counts) - min(counts) <= 1, (cell, counts)
    guess = np.mean([1 / len(c.labels) for c in split.tests["compose"].cells])
    assert guess == pytest.approx(np.mean([1 / PREDICATES[c.predicate]
                                           for c in split.test_cells["compose"]]))


def test_delusive_keeps_the_label_words_and_breaks_the_mapping():
    task, honest = _split("full")
    _, deluded = _split("delusive")
    assert [c for c in honest.train_cells] == [c for c in deluded.train_cells]
    right = [task.solve(task.vocab.decode(t[:p]))[0] == task.vocab.tokens[t[p]]
             for t, p in zip(deluded.train.tokens, deluded.train.prompt_len)]
    assert 0.3 < np.mean(right) < 0.7  # about half right by chance, 2 or 3 classes
    for t, p, cell in zip(deluded.train.tokens, deluded.train.prompt_len,
                          deluded.train.cells):
        assert task.vocab.tokens[t[p]] in cell.labels


def test_held_out_tasks_are_held_out():
    for tasks in (12, 50, 200):
        _, split = _split(train_tasks=tasks)
        trained = {c.pair for c in split.train_cells}
        preds = {p for p, _ in trained}
        args = {a for _, a in trained}
        for cell in split.test_cells["compose"]:
            assert cell.pair not in trained
            assert cell.predicate in preds and cell.argument in args
        labelled = {(c.pair, c.labels) for c in split.train_cells}
        for cell in split.test_cells["relabel"]:
            assert cell.pair in trained and (cell.pair, cell.labels) not in labelled
        assert len(split.train_cells) == tasks
        split.check_no_leakage()  # no test input string was trained on
    # 12 tasks train every trainable pair once: 4 x 4 pairs less the 4 compose pairs
    _, split = _split(train_tasks=12)
    assert len({c.pair for c in split.train_cells}) == 12
    assert len(split.test_cells["compose"]) == 4 * CFG.split.compose_labelings


def test_bad_configs_say_what_is_wrong():
    with pytest.raises(ValueError, match="condition"):
        ClassifyConfig(condition="shuffled")
    with pytest.raises(ValueError, match="label words must not"):
        ClassifyConfig(label_pool=("yes", "no", "A", "up"))
    with pytest.raises(ValueError, match="train_tasks"):
        ClassifySplitConfig(train_tasks=0)
    with pytest.raises(ValueError, match="init_std"):
        override(CFG, {"model.init_std": 0.0})


def test_a_short_run_reports_every_metric_on_every_split():
    cfg = override(CFG, {"train.max_steps": 30, "split.train_tasks": 12})
    result = instructions.run(cfg, cache=False)
    full = result.metrics[result.metrics.part == "full"]
    assert set(full.split) == {"id", "relabel", "compose"}
    assert set(full.metric) == set(instructions.METRICS)
    assert ((full.value >= 0) & (full.value <= 1)).all()
    parts = set(result.metrics.part) - {"full"}
    assert parts == set(CFG.task.predicates)
    table = instructions.answers_table(result, n=None)
    assert len(table) == 4 * CFG.split.compose_labelings
    assert result.value("compose", "guess") == pytest.approx(
        np.mean([1 / PREDICATES[c.split(" | ")[0]] for c in table.iloc[:, 0]]))


def test_untuned_stops_after_the_base_phase_and_never_writes_a_label_word():
    cfg = override(CFG, {"task.condition": "untuned", "split.train_tasks": 12})
    result = instructions.run(cfg, cache=False)
    assert result.info["steps"] == cfg.pretrain_steps
    assert result.value("compose") == 0.0 and result.value("compose", "format_valid") == 0.0
