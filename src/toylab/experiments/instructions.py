"""Chapter 2, format, not semantics: what instruction tuning carries to tasks it never saw.

Kung & Peng (ACL 2023, arXiv:2305.11383) instruction-tuned T5 on definitions stripped to
their label words, or on examples with a wrong input-to-output mapping, and found both about
as good on held-out classification tasks as the real instructions, with a guesser that
knows only each task's label words close behind (42.6% against 43% exact match,
low-resource). This module runs the toy version on the classification family of
``toylab.tasks.classify``:

1. *base* phase: the model learns the task inputs alone (``<in> -> A B D C``), no
   definition, no label word (``pretrain_steps`` steps); the ``untuned`` condition stops
   here;
2. *instructions* phase: tuning on ``split.train_tasks`` tasks of ``split.instances``
   instances each, with the definitions of ``task.condition`` (``full``, ``simplified``:
   label words only, ``delusive``: full definitions with a wrong mapping, ``no_labels``:
   predicate and argument without label words), for a fixed ``train.max_steps`` in every
   condition (no early stop, so every condition trains as long).

Every run is scored on new inputs of its training tasks (``id``) and on two kinds of
held-out whole tasks (``relabel``: trained pairs with new label words; ``compose``:
untrained pairs of trained predicates and arguments). The probe reads, per test split:

* ``exact_match``: the greedy answer is the gold label word, then ``<eos>``;
* ``label_choice``: the task's label word the model scores highest is the gold one (the
  model is made to choose within the label words, as rank classification does);
* ``format_valid``: the answer is one of the task's label words, then ``<eos>``;
* ``other_label``: the answer is a pool word that is not one of the task's;
* ``prior``: the answer is the task's label word that was most common in training;
* ``first_listed``: the answer is the first label word the definition lists;
* ``constant``: share of tasks answered with the same word whatever the input;
* ``guess``: the label-space guess, mean 1/k over the split (exact, not sampled).

The phase-2 history records ``compose`` exact match every ``train.eval_every`` steps (it
never stops training). Metric rows carry ``condition``, ``train_tasks`` and ``instances``
(the sliders) and ``examples`` (training examples), ``trained_pairs`` and ``compose_tasks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from toylab.config import check_range
from toylab.experiment import Experiment, ExperimentConfig, Phase, Rows, Trained
from toylab.objectives import sft
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, paired, per_seed, select
from toylab.sweep import shipped
from toylab.tasks import EOS, Examples, Task
from toylab.tasks.classify import (
    CONDITIONS,
    ClassifyConfig,
    ClassifySplitConfig,
    ClassifyTask,
    classes,
)
from toylab.train import TrainConfig
from toylab.views import bars_view, curve_view

#: Metrics the probe reports for every test split, in the order of the module docstring.
METRICS = ("exact_match", "label_choice", "format_valid", "other_label", "prior",
           "first_listed", "constant", "guess")


@dataclass(frozen=True)
class InstructionsConfig(ExperimentConfig):
    """An ``ExperimentConfig`` on the classification family, with a base phase.

    Attributes:
        pretrain_steps: steps of the base phase on bare inputs, 1-20,000 (same batch and
            learning rate as ``train``).
    """

    task: Any = field(default_factory=ClassifyConfig)
    split: Any = field(default_factory=ClassifySplitConfig)
    pretrain_steps: int = 100

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.task, ClassifyConfig):
            raise ValueError("the instructions experiment runs classification tasks "
                             f"(a ClassifyConfig), got a {type(self.task).__name__}")
        check_range("pretrain_steps", self.pretrain_steps, 1, 20_000, integer=True)


@torch.inference_mode()
def answers(model: torch.nn.Module, task: ClassifyTask, ex: Examples
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's answer to every prompt of ``ex``: (first token id, whether ``<eos>``
    follows it, the id of the task's label word it scores highest), each (n,)."""
    was_training = model.training
    model.eval()
    vocab = task.vocab
    eos = vocab.index[EOS]
    n = len(ex)
    first, ends, choice = (np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, np.int64))
    for plen in sorted(set(ex.prompt_len.tolist())):
        rows = np.flatnonzero(ex.prompt_len == plen)
        x = torch.from_numpy(ex.tokens[rows, :plen])  # (B, P)
        logits = model(x)[:, -1]  # (B, V)
        top = logits.argmax(-1)
        allowed = torch.full_like(logits, float("-inf"))
        for b, r in enumerate(rows):
            ids = vocab.encode(ex.cells[r].labels)
            allowed[b, ids] = logits[b, ids]
        nxt = model(torch.cat([x, top[:, None]], 1))[:, -1].argmax(-1)
        first[rows], ends[rows] = top.numpy(), (nxt == eos).numpy()
        choice[rows] = allowed.argmax(-1).numpy()
    model.train(was_training)
    return first, ends, choice


def score(task: ClassifyTask, ex: Examples, first: np.ndarray, ends: np.ndarray,
          choice: np.ndarray, label_counts: dict[str, int]) -> dict[str, float]:
    """The probe's metrics (module docstring) of one test split."""
    vocab = task.vocab
    gold = np.array([ex.tokens[i, p] for i, p in enumerate(ex.prompt_len)])
    pool = set(vocab.encode(task.config.label_pool))
    own = [set(vocab.encode(c.labels)) for c in ex.cells]
    # the task's label word most common in training (ties: the pool's order)
    order = {w: i for i, w in enumerate(task.config.label_pool)}
    prior = [vocab.index[max(c.labels, key=lambda w: (label_counts.get(w, 0), -order[w]))]
             for c in ex.cells]
    by_task: dict[Any, list[int]] = {}
    for cell, f in zip(ex.cells, first.tolist()):
        by_task.setdefault(cell, []).append(f)
    return {
        "exact_match": float(np.mean((first == gold) & ends)),
        "label_choice": float(np.mean(choice == gold)),
        "format_valid": float(np.mean([f in o for f, o in zip(first, own)] & ends)),
        "other_label": float(np.mean([f in pool and f not in o
                                      for f, o in zip(first, own)])),
        "prior": float(np.mean(first == np.array(prior))),
        "first_listed": float(np.mean(first == np.array(
            [vocab.index[c.labels[0]] for c in ex.cells]))),
        "constant": float(np.mean([len(set(v)) == 1 for v in by_task.values()])),
        "guess": float(np.mean([1 / len(c.labels) for c in ex.cells])),
    }


def probe_classify(trained: Trained, per_task: int = 3) -> Rows:
    """Metric rows and answers, for each test split.

    Metric rows: ``METRICS`` over the whole split (part ``full``), and exact match, label
    choice and the guess over the tasks of each predicate (part = the predicate). Sample
    rows: the first ``per_task`` instances of every task of the split."""
    task, split = trained.task, trained.split
    metrics, samples = [], []
    vocab = task.vocab
    for name, ex in split.tests.items():
        if not len(ex):
            continue
        first, ends, choice = answers(trained.model, task, ex)
        values = score(task, ex, first, ends, choice, split.record["label_counts"])
        metrics += [{"split": name, "part": "full", "metric": m, "value": values[m],
                     "n": len(ex)} for m in METRICS]
        preds = np.array([c.predicate for c in ex.cells])
        gold = ex.tokens[np.arange(len(ex)), ex.prompt_len]
        for pred in sorted(set(preds.tolist())):
            rows = preds == pred
            k = len(next(c for c, r in zip(ex.cells, rows) if r).labels)
            metrics += [{"split": name, "part": pred, "metric": m, "value": v,
                         "n": int(rows.sum())} for m, v in (
                ("exact_match", float(np.mean((first[rows] == gold[rows]) & ends[rows]))),
                ("label_choice", float(np.mean(choice[rows] == gold[rows]))),
                ("guess", 1 / k))]
        seen: dict = {}
        for i, cell in enumerate(ex.cells):
            seen[cell] = seen.get(cell, 0) + 1
            if seen[cell] > per_task:
                continue
            p = int(ex.prompt_len[i])
            out = [vocab.tokens[first[i]]] + ([] if ends[i] else ["..."])
            samples.append({"split": name, "cell": str(cell),
                            "prompt": " ".join(vocab.decode(ex.tokens[i, :p])),
                            "target": vocab.tokens[ex.tokens[i, p]],
                            "output": " ".join(out),
                            "chosen": vocab.tokens[choice[i]],
                            "correct": bool(first[i] == ex.tokens[i, p] and ends[i])})
    return metrics, samples


#: The chapter's family and model (the regime search that found them, every configuration
#: tried, is ``wip/CHAPTER2_REGIME.md`` at commit 66ea6f4): 4 letters, strings of 4, three
#: 2-class predicates and one 3-class one (``count``), 8 label words; 4 held-out compose
#: pairs (one per predicate, each with its own argument) with 8 label-word choices each;
#: 3 layers of width 32 from a wide init (0.3), without which a tiny model sits at the
#: label-space guess for thousands of steps (it cannot compare the argument with the
#: letters); batch 16, lr 2e-3.
_FAMILY = {"task.alphabet_size": 4, "task.length": 4,
           "task.predicates": ("has", "starts", "ends", "count"),
           "task.label_pool": ("yes", "no", "on", "off", "up", "down", "red", "blue"),
           "split.compose_pairs": 4, "split.compose_labelings": 8, "split.instances": 64,
           "model.n_layer": 3, "model.n_head": 4, "model.d_model": 32,
           "model.init_std": 0.3, "train.batch_size": 16, "train.lr": 2e-3,
           "train.target_accuracy": None, "pretrain_steps": 100}
#: The chapter's presets: name -> overrides of ``InstructionsConfig()``.
PRESETS: dict[str, dict[str, Any]] = {
    # the headline sweeps: 5,000 steps of tuning in every condition (about 20 s a run on
    # one core), long enough for full definitions to be read at 200 training tasks
    "tasks": {**_FAMILY, "train.max_steps": 5000, "train.eval_every": 500},
    # the live panel: the same family and model, 400 steps (a few seconds): enough to
    # learn part of a few dozen training tasks, far too short to read definitions
    "live": {**_FAMILY, "train.max_steps": 400, "train.eval_every": 200},
}


SEEDS = [0, 1, 2, 3, 4]
#: The training-task counts of the coverage slider: 12 trains every trainable (predicate,
#: argument) pair once; more tasks are the same pairs with other label words.
TASK_COUNTS = [12, 25, 50, 100, 200]
#: Instances per training task on the live panel's slider (a slider starts at its middle
#: value: 16).
INSTANCES = [4, 16, 64]
#: The conditions in slider order (a slider starts at its middle value: full).
SLIDER_CONDITIONS = ["untuned", "simplified", "full", "delusive", "no_labels"]
#: The series that draws the exact label-space guess beside the conditions.
GUESS = "label-space guess"
#: The chapter's live panels, in the order the chapter shows them.
PANELS = {
    "tasks": PanelSpec(
        "live", {"split.train_tasks": TASK_COUNTS, "split.instances": INSTANCES,
                 "task.condition": SLIDER_CONDITIONS, "seed": SEEDS}, "live_with_guess",
        view=curve_view, along="train_tasks",
        options={"x": "train_tasks", "series": "condition",
                 "metrics": ["exact_match", "label_choice", "format_valid"],
                 "fixed": {"split": "compose"}, "log_x": True,
                 "x_title": "training tasks"},
        description="held-out compose tasks against the number of training tasks, per "
                    "instruction format, with the label-space guess"),
    "answers": PanelSpec(
        "live", {"task.condition": SLIDER_CONDITIONS, "split.train_tasks": TASK_COUNTS,
                 "seed": SEEDS}, "live", view=bars_view,
        options={"metrics": ["exact_match", "prior", "constant", "other_label"]},
        description="what the model answers, by test split"),
}


class Instructions(Experiment):
    kind = "toylab.experiments.instructions/1"
    config_class = InstructionsConfig
    presets: dict[str, dict[str, Any]] = PRESETS
    columns = {"condition": "task.condition", "train_tasks": "split.train_tasks",
               "instances": "split.instances"}
    chapter = "chapters/02_format_not_semantics.ipynb"
    panels = PANELS

    def tables(self) -> dict[str, pd.DataFrame]:
        return frames()

    def phases(self, cfg: InstructionsConfig, task: Task, split) -> list[Phase]:
        t = cfg.train
        base = TrainConfig(max_steps=cfg.pretrain_steps, batch_size=t.batch_size, lr=t.lr,
                           weight_decay=t.weight_decay, target_accuracy=None,
                           threads=t.threads)
        out = [Phase("base", split.pools["pretrain"].to_tensors(), base, sft())]
        if cfg.task.condition != "untuned":
            watch = split.tests.get("compose")
            out.append(Phase("instructions", split.train.to_tensors(), t, sft(),
                             watch if watch is not None and len(watch) else None))
        return out

    def probe(self, cfg: InstructionsConfig, trained: Trained) -> Rows:
        return probe_classify(trained)

    def derived(self, cfg: InstructionsConfig, trained: Trained) -> dict[str, Any]:
        rec = trained.split.record
        return {"examples": len(trained.split.train), "trained_pairs": rec["trained_pairs"],
                "compose_tasks": rec["compose_tested"]}


EXPERIMENT = Instructions()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel


@analysis
def formats_table(cell: tuple[str, str, tuple[str, ...]] = ("starts", "B", ("red", "up")),
                  string: str = "B D A B") -> pd.DataFrame:
    """One task's prompt for one input in every instruction format, with its target."""
    from toylab.tasks import make_task
    from toylab.tasks.classify import ClassifyCell

    task_cell = ClassifyCell(*cell)
    rows = []
    for cond in CONDITIONS:
        task = make_task(preset("live", {"task.condition": cond}).task)
        letters = task.config.letters
        prompt = task.prompt(task_cell, [letters.index(t) for t in string.split()])
        answer = task_cell.labels[int(classes(
            task_cell.predicate, letters.index(task_cell.argument),
            np.array([[letters.index(t) for t in string.split()]]))[0])]
        rows.append({"condition": cond, "prompt": " ".join(prompt),
                     "target": {"delusive": "a label word of the task at random "
                                            "(balanced over the classes)",
                                "untuned": f"(never tuned; scored against {answer} "
                                           "<eos>)"}.get(cond, f"{answer} <eos>")})
    return pd.DataFrame(rows).set_index("condition")


@analysis
def answers_table(result, split: str = "compose", n: int | None = 12) -> pd.DataFrame:
    """What one run answered on the tasks of ``split``: a row per task, with its label
    words, the right answers and the model's answers to the first instances (the probe
    keeps three per task; an answer that does not end after one word shows ``...``), and
    whether it gave the same answer every time; the first ``n`` tasks (None: all)."""
    rows = result.samples[result.samples.split == split]
    if rows.empty:
        raise ValueError(f"no answers kept for split {split!r}; splits: "
                         f"{sorted(result.samples.split.unique())}")
    out = rows.groupby("cell", sort=False).agg(
        right=("target", " / ".join), answered=("output", " / ".join),
        correct=("correct", "sum"), shown=("correct", "size")).reset_index()
    out["same_answer_every_time"] = [len(set(a.split(" / "))) == 1 for a in out.answered]
    out = out.rename(columns={"cell": "task (predicate | argument | label words)"})
    return out if n is None else out.head(n)


# ---------------------------------------------------------------------------------------
# What the chapter states, computed from the shipped sweeps

#: The shipped sweeps of this chapter, by the table they fill.
SWEEPS = {"tasks": "instructions_tasks", "live": "instructions_live",
          "live_instances": "instructions_live_instances",
          "instances": "instructions_instances"}
#: A condition "beats the guess" when its mean over seeds is at least this far above it.
BEATS = 0.1
#: A condition is "at the guess" when its mean over seeds is within this of it.
NEAR = 0.1
#: A condition's format "has transferred" once at least this share of its held-out
#: answers (mean over seeds, on both held-out splits) is one of the task's label words.
FORMAT_OK = 0.9
#: The looser share the paper comparison asks of full, simplified and delusive alike.
PAPER_FORMAT = 0.8
#: The held-out splits, in the order the chapter discusses them.
HELD_OUT = ("relabel", "compose")
#: The tuned conditions.
TUNED = ("full", "simplified", "delusive", "no_labels")
#: Steps of each preset (the sweeps' training lengths).
LONG_STEPS = PRESETS["tasks"]["train.max_steps"]
LIVE_STEPS = PRESETS["live"]["train.max_steps"]


def _with_guess(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus the exact label-space guess of every run as one more condition
    (value of both exact match and label choice)."""
    guess = select(frame, metric="guess", condition="full")
    both = [guess.assign(metric=m) for m in ("exact_match", "label_choice")]
    return pd.concat([frame, *[g.assign(condition=GUESS) for g in both]],
                     ignore_index=True)


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by its name in ``SWEEPS``, and

    * ``tasks_with_guess``: the task sweep with the label-space guess as one more
      condition;
    * ``live_with_guess``: the same for the live regime, at every instance count of the
      live panel (``live`` holds its 64-instance runs, ``live_instances`` the others);
    * ``instances``: held-out scores against instances per task at 200 training tasks
      (the instances sweep plus the 64-instance runs of the tasks sweep).

    ``sweeps`` replaces shipped frames by name (e.g. recomputed ones)."""
    out = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    out.update(sweeps or {})
    out["tasks_with_guess"] = _with_guess(out["tasks"])
    out["live_with_guess"] = _with_guess(pd.concat([out["live"], out["live_instances"]],
                                                   ignore_index=True))
    most = out["instances"].train_tasks.max()
    conds = sorted(out["instances"].condition.unique())
    out["instances_all"] = _with_guess(pd.concat([
        out["instances"], select(out["tasks"], metric=None, part=None, train_tasks=most,
                                 condition=conds)], ignore_index=True))
    return out


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 2 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    for part in (_tasks, _meaning, _format, _paper, _answers, _instances, _examples,
                 _predicates, _live, _answer):
        part(f, out)
    _card(out)
    return out


def _band(frame: pd.DataFrame, metric: str = "exact_match", **where) -> pd.DataFrame:
    """Mean, worst and best seed by condition, training tasks and split."""
    rows = select(frame, metric=metric, **where)
    g = rows.groupby(["condition", "train_tasks", "split"]).value
    return pd.DataFrame({"mean": g.mean(), "worst": g.min(), "best": g.max(),
                         "seeds": g.count()})


def _guess(frame: pd.DataFrame) -> pd.Series:
    """The exact label-space guess by training tasks and split (the same in every
    condition and seed of a split's tasks: mean 1/k)."""
    return select(frame, metric="guess", condition="full").groupby(
        ["train_tasks", "split"]).value.mean()


def _fmt(band: pd.DataFrame, key) -> str:
    row = band.loc[key]
    return f"{row['mean']:.2f} ({row['worst']:.2f} to {row['best']:.2f})"


@analysis
def _tasks(f: dict, out: Findings) -> None:
    frame = f["tasks"]
    band, guess = _band(frame), _guess(frame)
    counts = sorted(frame.train_tasks.unique())
    seeds = frame.seed.nunique()
    lines = [f"Exact match, mean of {seeds} seeds (worst to best seed), after "
             f"{LONG_STEPS:,} steps of tuning; the label-space guess in brackets."]
    for split in HELD_OUT:
        lines.append(f"{split}, by training tasks " + ", ".join(str(c) for c in counts)
                     + ":")
        for cond in (*TUNED, "untuned"):
            lines.append(f"  {cond}: " + "; ".join(
                f"{c}: {_fmt(band, (cond, c, split))}" for c in counts))
        lines.append("  [guess: " + ", ".join(f"{guess[c, split]:.2f}" for c in counts)
                     + "]")
    ident = band.xs("id", level="split")
    lines.append("Training tasks themselves (id, new inputs), full definitions: "
                 + "; ".join(f"{c}: {_fmt(ident, ('full', c))}" for c in counts) + ".")
    valid = _band(frame, "format_valid")["mean"]
    choice = _band(frame, "label_choice")["mean"]
    out.values.update(
        valid_mean={k: float(x) for k, x in valid.items()},
        choice_mean={k: float(x) for k, x in choice.items()},
        tasks_mean={k: float(v) for k, v in band["mean"].items()},
        tasks_worst={k: float(v) for k, v in band["worst"].items()},
        tasks_best={k: float(v) for k, v in band["best"].items()},
        guess={k: float(v) for k, v in guess.items()}, task_counts=counts, seeds=seeds)
    out.texts["tasks"] = "\n".join(lines)


@analysis
def _meaning(f: dict, out: Findings) -> None:
    v = out.values
    counts = v["task_counts"]
    lines, first_beats, every_seed, seeds_beating = [], {}, {}, {}
    for split in HELD_OUT:
        for cond in TUNED:
            above = [c for c in counts
                     if v["tasks_mean"][cond, c, split] >= v["guess"][c, split] + BEATS]
            first_beats[cond, split] = above[0] if above else None
            every = [c for c in counts
                     if v["tasks_worst"][cond, c, split] > v["guess"][c, split]]
            every_seed[cond, split] = every
        full = first_beats["full", split]
        others = [c for c in TUNED[1:] if first_beats[c, split] is not None]
        if full is None:
            lines.append(f"{split}: full definitions never beat the guess by {BEATS} "
                         f"(mean over seeds) at any number of training tasks.")
        else:
            runs = select(f["tasks"], split=split, condition="full", train_tasks=full)
            by = int((runs.value >= v["guess"][full, split] + BEATS).sum())
            seeds_beating[split] = (by, len(runs))
            lines.append(
                f"{split}: full definitions first beat the guess by {BEATS} (mean) at "
                f"{full} training tasks: {v['tasks_mean']['full', full, split]:.2f} "
                f"against {v['guess'][full, split]:.2f}, worst seed "
                f"{v['tasks_worst']['full', full, split]:.2f}; {by} of {len(runs)} seeds "
                f"beat it by {BEATS} there. Every seed above the guess at: "
                + (", ".join(str(c) for c in every_seed["full", split]) or "no count of")
                + " training tasks.")
        lines.append(f"  Other conditions that ever beat the guess by {BEATS} on {split}: "
                     + (", ".join(f"{c} (from {first_beats[c, split]})" for c in others)
                        if others else "none") + ".")
    most = max(counts)
    compose = select(f["tasks"], split="compose", train_tasks=most)
    diff = paired(compose, "condition", "full", "simplified")
    lines.append(f"At {most} training tasks, full minus simplified on compose, seed by "
                 f"seed: {per_seed(diff.diffs, 2)}; {diff}.")
    v.update(first_beats=first_beats, every_seed_above=every_seed,
             seeds_beating=seeds_beating,
             full_minus_simplified=diff.diffs.to_dict(),
             full_minus_simplified_positive=diff.positive)
    out.texts["meaning"] = "\n".join(lines)


@analysis
def _format(f: dict, out: Findings) -> None:
    frame = f["tasks"]
    v = out.values
    counts = v["task_counts"]
    held = select(frame, metric=None, split=list(HELD_OUT))
    untuned = held[held.condition == "untuned"].groupby("metric").value
    choice_gap = (untuned.get_group("label_choice") - held[
        (held.condition == "untuned") & (held.metric == "guess")].value.values)
    valid, choice, mean, guess = (v["valid_mean"], v["choice_mean"], v["tasks_mean"],
                                  v["guess"])
    transferred = {}
    for cond in TUNED:
        ok = [c for c in counts if all(valid[cond, c, s] >= FORMAT_OK for s in HELD_OUT)]
        transferred[cond] = ok[0] if ok else None
    lines = [
        f"Untuned (the base model, never instruction-tuned), held-out tasks: exact match "
        f"at most {untuned.get_group('exact_match').max():.2f}, a valid label word at most "
        f"{untuned.get_group('format_valid').max():.2f} of the time; made to choose "
        f"within each task's label words, it scores "
        f"{untuned.get_group('label_choice').mean():.2f} on average, within "
        f"{choice_gap.abs().max():.2f} of the label-space guess in every run: its whole "
        "gap is format.",
        "Tuned: share of held-out answers that are one of the task's own label words "
        "(mean of seeds, relabel / compose), by training tasks:"]
    for cond in TUNED:
        lines.append(f"  {cond}: " + "; ".join(
            f"{c}: {valid[cond, c, 'relabel']:.2f} / {valid[cond, c, 'compose']:.2f}"
            for c in counts) + ". " + (
            f"At least {FORMAT_OK} on both from {transferred[cond]} tasks."
            if transferred[cond] else f"Never {FORMAT_OK} on both."))
    low = min(counts)
    lines.append(
        f"At {low} tasks the held-out answers are often a training task's word instead, "
        "and exact match falls below the guess (compose: " + ", ".join(
            f"{c} {mean[c, low, 'compose']:.2f}" for c in ("full", "simplified",
                                                           "delusive"))
        + f", guess {guess[low, 'compose']:.2f}); made to choose within the task's label "
        "words the same models score " + ", ".join(
            f"{choice[c, low, 'compose']:.2f}" for c in ("full", "simplified", "delusive"))
        + ": the shortfall is format.")
    v.update(untuned_exact_max=float(untuned.get_group("exact_match").max()),
             untuned_valid_max=float(untuned.get_group("format_valid").max()),
             untuned_choice_gap=float(choice_gap.abs().max()),
             format_transferred=transferred)
    out.texts["format"] = "\n".join(lines)


@analysis
def _paper(f: dict, out: Findings) -> None:
    """The paper's picture, where the format has transferred and full definitions are not
    yet read: full, simplified and delusive near the guess."""
    v = out.values
    conds = ("full", "simplified", "delusive")
    # full definitions are read from the first count where they beat the guess on any
    # held-out split (relabel can move first: on some CPUs compose stays below the margin)
    read = [c for c in (v["first_beats"]["full", s] for s in HELD_OUT) if c is not None]
    beats = min(read) if read else None
    few = [c for c in v["task_counts"]
           if all(v["valid_mean"][cond, c, s] >= PAPER_FORMAT for cond in conds
                  for s in HELD_OUT) and (beats is None or c < beats)]
    gaps = {(cond, c, split): v["tasks_mean"][cond, c, split] - v["guess"][c, split]
            for cond in conds for c in few for split in HELD_OUT}
    if not gaps:
        v.update(paper_counts=[], paper_gap_max=None)
        out.texts["paper"] = ("No number of training tasks has the format transferred "
                              "and the definitions not yet read.")
        return
    worst = max(gaps, key=lambda k: abs(gaps[k]))
    v.update(paper_counts=few, paper_gap_max=abs(gaps[worst]))
    out.texts["paper"] = (
        f"Where the format has transferred (at least {PAPER_FORMAT} of held-out answers a "
        "label word of the task, in all three conditions) and full definitions do not yet "
        f"beat the guess on compose, at " + " and ".join(str(c) for c in few)
        + f" training tasks: full, simplified and delusive all score within "
        f"{abs(gaps[worst]):.2f} of the label-space guess on both kinds of held-out task "
        f"(mean over seeds; the farthest: {worst[0]} at {worst[1]} tasks on {worst[2]}, "
        f"{v['tasks_mean'][worst]:.2f} against {v['guess'][worst[1], worst[2]]:.2f}). "
        "That is the paper's picture.")


@analysis
def _answers(f: dict, out: Findings) -> None:
    frame = f["tasks"]
    counts = out.values["task_counts"]
    few, most = min(counts), max(counts)
    rows = select(frame, metric=None, split="compose", train_tasks=[few, most])
    mean = rows.groupby(["condition", "train_tasks", "metric"]).value.mean()
    lines = [f"On compose tasks (mean of seeds), at {few} and at {most} training tasks: "
             "the task's most-trained label word (prior), the same word for every input "
             "(constant, share of tasks), a word of another task (other label)."]
    for cond in TUNED:
        lines.append(f"  {cond}: " + "; ".join(
            f"{c} tasks: prior {mean[cond, c, 'prior']:.2f}, constant "
            f"{mean[cond, c, 'constant']:.2f}, other label "
            f"{mean[cond, c, 'other_label']:.2f}"
            for c in (few, most)))
    out.values["answers"] = {k: float(x) for k, x in mean.items()}
    out.texts["answers"] = "\n".join(lines)


@analysis
def _instances(f: dict, out: Findings) -> None:
    frame = f["instances_all"]
    tasks = int(frame.train_tasks.max())
    conds = [c for c in frame.condition.unique() if c != GUESS]
    rows = select(frame, split=list(HELD_OUT), condition=conds)
    g = rows.groupby(["condition", "instances", "split"]).value
    mean, worst = g.mean(), g.min()
    inst = sorted(rows.instances.unique())
    lines = [f"At {tasks} training tasks, held-out exact match by instances per task "
             + ", ".join(str(int(i)) for i in inst) + " (mean, worst seed):"]
    for split in HELD_OUT:
        for cond in sorted(rows.condition.unique()):
            lines.append(f"  {split}, {cond}: " + "; ".join(
                f"{int(i)}: {mean[cond, i, split]:.2f} ({worst[cond, i, split]:.2f})"
                for i in inst))
    out.values.update(instances_mean={k: float(x) for k, x in mean.items()},
                      instances_worst={k: float(x) for k, x in worst.items()})
    out.texts["instances"] = "\n".join(lines)


@analysis
def _examples(f: dict, out: Findings) -> None:
    """The confound of the task axis: more tasks at 64 instances each are also more
    examples. The instances sweep has runs with about as many examples spread over 200
    tasks; compare them."""
    tasks, inst = f["tasks"], f["instances"]
    lines = ["Tasks or examples? Runs with about the same number of training examples "
             "(and the same steps), spread over few or many tasks; full definitions, mean "
             "of seeds, relabel / compose:"]
    pairs = {}
    for n in sorted(inst.instances.unique()):
        wide = select(inst, metric=None, condition="full", instances=n)
        examples = int(wide.examples.iloc[0])
        narrow_tasks = min(tasks.train_tasks.unique(),
                           key=lambda c: abs(c * 64 - examples))  # noqa: B023
        narrow = select(tasks, metric=None, condition="full", train_tasks=narrow_tasks)
        row = {}
        for name, frame in (("narrow", narrow), ("wide", wide)):
            m = frame.groupby(["metric", "split"]).value.mean()
            row[name] = {(k, s): float(m[k, s]) for k in ("format_valid", "exact_match")
                         for s in HELD_OUT}
            row[name]["examples"] = int(frame.examples.iloc[0])
            row[name]["tasks"] = int(frame.train_tasks.iloc[0])
        pairs[int(n)] = row
        lines.append("  " + " against ".join(
            f"{r['tasks']} tasks ({r['examples']:,} examples): well-formed "
            f"{r['format_valid', 'relabel']:.2f} / {r['format_valid', 'compose']:.2f}, "
            f"exact match {r['exact_match', 'relabel']:.2f} / "
            f"{r['exact_match', 'compose']:.2f}" for r in (row["narrow"], row["wide"]))
            + ".")
    out.values["examples_pairs"] = pairs
    out.texts["examples"] = "\n".join(lines)


@analysis
def _predicates(f: dict, out: Findings) -> None:
    frame = f["tasks"]
    most = max(out.values["task_counts"])
    rows = frame[(frame.split == "compose") & (frame.part != "full")
                 & (frame.train_tasks == most) & (frame.condition == "full")]
    mean = rows.groupby(["part", "metric"]).value.mean()
    worst = rows.groupby(["part", "metric"]).value.min()
    parts = sorted(rows.part.unique())
    out.values.update(predicate_mean={k: float(x) for k, x in mean.items()},
                      predicate_worst={k: float(x) for k, x in worst.items()})
    out.texts["predicates"] = (
        f"Full definitions, {most} training tasks, compose by predicate (exact match, mean "
        f"and worst seed, against the guess): " + "; ".join(
            f"{p}: {mean[p, 'exact_match']:.2f} ({worst[p, 'exact_match']:.2f}) against "
            f"{mean[p, 'guess']:.2f}" for p in parts) + ".")


@analysis
def _live(f: dict, out: Findings) -> None:
    frame = f["live"]
    band, guess = _band(frame), _guess(frame)
    counts = sorted(frame.train_tasks.unique())
    every = f["live_with_guess"]  # every instance count of the live panel
    held = select(every, split=list(HELD_OUT), condition=list(TUNED))
    means = held.groupby(["condition", "instances", "train_tasks", "split"]).value.mean()
    beats = [key for key, m in means.items() if m >= guess[key[2], key[3]] + BEATS]
    ident = band.xs("id", level="split")
    out.values.update(live_mean={k: float(x) for k, x in band["mean"].items()},
                      live_beats=beats)
    out.texts["live"] = (
        f"After {LIVE_STEPS} steps (the live panel), full definitions score on new inputs "
        "of their training tasks "
        + ", ".join(f"{_fmt(ident, ('full', c))} at {c}" for c in counts)
        + " tasks (id exact match, 64 instances per task); on held-out tasks, at "
        + ", ".join(str(int(i)) for i in sorted(every.instances.unique()))
        + f" instances per task, conditions that beat the guess by {BEATS}: "
        + (", ".join(f"{a} ({i} instances) at {c} tasks on {s}" for a, i, c, s in beats)
           if beats else "none") + ".")


@analysis
def _answer(f: dict, out: Findings) -> None:
    """The chapter's two answers in one paragraph each."""
    v = out.values
    counts = v["task_counts"]
    low, most = min(counts), max(counts)
    fmt = v["format_transferred"]
    valid = v["valid_mean"]
    worst_low = min(valid[c, low, s] for c in ("full", "simplified", "delusive")
                    for s in HELD_OUT)
    beats = v["first_beats"]
    inst = v["instances_mean"]
    few_inst = min(i for _, i, _ in inst)
    lines = [
        f"How many tasks for the format to transfer: with {low} training tasks, as few as "
        f"{worst_low:.2f} of held-out answers are one of the task's label words (mean of "
        f"seeds); at least {FORMAT_OK} are from " + ", ".join(
            f"{fmt[c]} tasks ({c})" for c in ("simplified", "delusive", "full")) + ".",
        "When meaning starts to matter: only with full definitions"
        + (f", from {beats['full', 'relabel']} training tasks on relabel "
           f"({v['tasks_mean']['full', most, 'relabel']:.2f} at {most}, worst seed "
           f"{v['tasks_worst']['full', most, 'relabel']:.2f})"
           if beats["full", "relabel"] else ", never on relabel")
        + (f" and from {beats['full', 'compose']} on compose "
           f"({v['tasks_mean']['full', most, 'compose']:.2f}, worst seed "
           f"{v['tasks_worst']['full', most, 'compose']:.2f}; "
           f"{v['seeds_beating']['compose'][0]} of {v['seeds_beating']['compose'][1]} "
           f"seeds {BEATS} above the guess of {v['guess'][most, 'compose']:.2f})"
           if beats["full", "compose"] else ", never on compose")
        + f", with {LONG_STEPS:,} steps; with {few_inst} instances per task "
        f"(relabel {inst['full', few_inst, 'relabel']:.2f}, compose "
        f"{inst['full', few_inst, 'compose']:.2f}) or {LIVE_STEPS} steps, nothing is read."]
    out.texts["answer"] = "\n".join(lines)


@analysis
def _card(out: Findings) -> None:
    v = out.values
    counts = v["task_counts"]
    most, low = max(counts), min(counts)
    beats = v["first_beats"]
    mean, worst, guess = v["tasks_mean"], v["tasks_worst"], v["guess"]

    def at(cond, c, split):
        return f"{mean[cond, c, split]:.2f} (worst {worst[cond, c, split]:.2f})"

    def alike(a, b):  # the task counts up to which a and b stay within NEAR
        same = []
        for c in counts:
            if any(abs(mean[a, c, s] - mean[b, c, s]) > NEAR for s in HELD_OUT):
                break
            same.append(c)
        return f"{same[0]} to {same[-1]} tasks" if same else "no count"

    inst = v["instances_mean"]
    few_inst = min(i for _, i, _ in inst)
    transferred = v["format_transferred"]
    answers = v["answers"]
    out.card = [
        ("Instruction tuning transfers the answer format",
         "the gain is attributed to learning the output format and guessing [P]",
         f"held-out answers that are the task's label words, full: "
         f"{v['valid_mean']['full', low, 'compose']:.2f} at {low} tasks, "
         f"{v['valid_mean']['full', most, 'compose']:.2f} at {most}; at least {FORMAT_OK}"
         " from " + ", ".join(f"{transferred[c]} ({c})" for c in ("full", "simplified",
                                                                  "delusive")),
         f"the format itself needs tasks: at {low}, answers are often a training task's "
         "word"),
        ("Simplified definitions (label words only) match the real ones on held-out "
         "tasks", "comparable [P]; about 3 points below on LLaMA-7B [S]",
         f"compose at {low} tasks: full {at('full', low, 'compose')}, simplified "
         f"{at('simplified', low, 'compose')}; at {most}: full "
         f"{at('full', most, 'compose')}, simplified {at('simplified', most, 'compose')}",
         f"within {NEAR} of each other from {alike('full', 'simplified')}; "
         + (f"full ahead from {beats['full', 'compose']} tasks (every seed)"
            if beats["full", "compose"] and v["full_minus_simplified_positive"] == len(
                v["full_minus_simplified"]) else "full never clearly ahead")),
        ("Delusive examples (wrong mapping) match the real ones",
         "comparable [P] (exact numbers not confirmed)",
         f"compose at {most} tasks: delusive {at('delusive', most, 'compose')}; one "
         f"answer for every input in {answers['delusive', most, 'constant']:.0%} of "
         "compose tasks",
         f"within {NEAR} of full from {alike('full', 'delusive')}; the delusive model "
         "learns the format only"),
        ("A guesser knowing only the label words nearly matches instruction tuning",
         "42.6% against 43% exact match, low-resource classification [P]",
         (f"guess {guess[most, 'compose']:.2f} on compose; full, simplified and delusive "
          f"within {v['paper_gap_max']:.2f} of it at "
          + " and ".join(str(c) for c in v["paper_counts"]) + " tasks")
         if v["paper_gap_max"] is not None else "no count matches the paper's picture",
         "the guess is exact here (balanced classes), not sampled"),
        ("Low resource: fewer than five instances per task", "the setting of the 43% [S]",
         f"{few_inst} instances per task, {most} tasks, full: relabel "
         f"{inst['full', few_inst, 'relabel']:.2f}, compose "
         f"{inst['full', few_inst, 'compose']:.2f} (64 instances: "
         f"{inst['full', 64, 'relabel']:.2f}, {inst['full', 64, 'compose']:.2f})",
         "no: with so few instances nothing is read even at 200 tasks"),
        ("The untuned model is far below", "about 30 points below; 12.78% EM [S]",
         f"exact match at most {v['untuned_exact_max']:.2f}; choosing within the label "
         f"words, within {v['untuned_choice_gap']:.2f} of the guess",
         "the whole gap is format: the untuned model never writes a label word"),
        ("Whether definitions' meaning is used (the book's question)",
         "not tested in the paper",
         f"full beats the guess by {BEATS} on relabel from "
         + (f"{beats['full', 'relabel']} tasks" if beats["full", "relabel"] else "no count")
         + ", on compose from "
         + (f"{beats['full', 'compose']} tasks" if beats["full", "compose"] else "no count")
         + f" ({at('full', most, 'compose')}); full minus simplified on compose at "
         f"{most}: higher in {v['full_minus_simplified_positive']} of "
         f"{len(v['full_minus_simplified'])} seeds",
         f"the toy's own result, after {LONG_STEPS:,} steps; no other condition ever "
         f"beats the guess by {BEATS}"),
    ]

__all__ = ["CONDITIONS", "EXPERIMENT", "GUESS", "INSTANCES", "InstructionsConfig",
           "METRICS", "PANELS", "TASK_COUNTS", "answers", "answers_table", "findings",
           "formats_table", "frames", "panel", "probe_classify", "run", "score"]
