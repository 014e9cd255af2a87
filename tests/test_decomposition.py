"""The function-call family (``toylab.tasks.calls``) and chapter 3's experiment module: what
the chapter relies on about the data, the conditions, the scoring and the checks."""

import numpy as np
import pandas as pd
import pytest

from toylab.config import override
from toylab.exercises import check_decomposition_change, check_error_class
from toylab.experiments import decomposition
from toylab.splits import make_split
from toylab.tasks.calls import (
    ARGS,
    CALL,
    CONDITIONS,
    NAMES,
    CallCell,
    CallConfig,
    CallSplitConfig,
    CallTask,
    argument_f1,
    choose_pairs,
    classify,
    parse_calls,
)

TASK = CallTask(CallConfig())


def split_of(seed=0, **changes):
    return make_split(TASK, CallSplitConfig(**changes), seed)


def test_every_sampled_target_is_what_the_solver_gives():
    rng = np.random.default_rng(0)
    for cell in TASK.grid():
        ex = TASK.sample(cell, 3, rng, "train", salt=1)
        for prompt, target in zip(ex.prompts(), ex.targets()):
            assert TASK.solve(TASK.vocab.decode(prompt)) == TASK.vocab.decode(target)


def test_worked_examples_of_the_docstring():
    assert " ".join(TASK.solve("copy blue 4 then turn up <call>".split())) == (
        "COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up ) <eos>")
    assert " ".join(TASK.solve("scale 1 of color green <call>".split())) == (
        "GROW ( x = PAINT ( c = green ) n = 1 ) <eos>")
    with pytest.raises(ValueError, match="takes"):
        TASK.solve("copy 4 blue <call>".split())  # copy gives the colour first


def test_parsing_reads_every_kind_back():
    rng = np.random.default_rng(1)
    for kind in ("single", "parallel", "chained", "nested"):
        cell = next(c for c in TASK.grid() if c.kind == kind)
        ex = TASK.sample(cell, 1, rng, "train", salt=1)
        parsed = parse_calls(TASK.vocab.decode(ex.targets()[0]))
        assert parsed.kind == kind and parsed.names == list(cell.functions)


def test_the_first_thing_wrong_is_classified():
    gold = "COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up ) <eos>".split()
    cases = {
        "COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up )": "correct",
        "COPY ( n = 4 c = blue ) ; TURN ( x = $1": "format",
        "COPY ( n = 4 c = blue ) ; MOVE ( x = $1 d = up )": "name",
        "TURN ( d = up ) ; COPY ( x = $1 n = 4 c = blue )": "order",
        "COPY ( n = 4 c = blue ) ; TURN ( d = up )": "nesting",
        "COPY ( x = TURN ( d = up ) n = 4 c = blue )": "nesting",
        "COPY ( n = 3 c = blue ) ; TURN ( x = $1 d = up )": "argument",
    }
    for output, kind in cases.items():
        assert classify(gold, output.split()) == kind, output
    assert argument_f1(gold, gold) == 1.0
    assert argument_f1(gold, "COPY ( n = 3 c = blue ) ; TURN ( x = $1 d = up )".split()
                       ) == pytest.approx(2 / 3)
    assert argument_f1(gold, "nonsense".split()) == 0.0


def test_pairs_cover_every_function_in_both_places_first():
    pairs = CallConfig().pairs
    assert len(pairs) == 30
    for seed in range(5):
        chosen = choose_pairs(pairs, 0.2, np.random.default_rng(seed))
        assert len(chosen) == 6
        functions = set(CallConfig().functions)
        assert {a for a, _ in chosen} == {b for _, b in chosen} == functions
    # coverage grows by adding pairs: the 0.2 pairs are among the 0.4 ones
    small = choose_pairs(pairs, 0.2, np.random.default_rng(3))
    assert set(small) <= set(choose_pairs(pairs, 0.4, np.random.default_rng(3)))


def test_held_out_pairs_never_reach_training_in_any_condition():
    for condition in CONDITIONS:
        split = split_of(coverage=0.4, condition=condition)
        split.check_no_leakage()
        held = {tuple(p.split()) for p in split.record["held_pairs"]}
        assert len(held) == 18
        assert not {c.functions for c in split.train.cells} & held
        assert {c.functions for c in split.tests["held"].cells} == held


def test_conditions_spend_the_same_budget():
    longest = TASK.max_len
    for condition in CONDITIONS:
        split = split_of(condition=condition, budget=12_000)
        tokens = split.record["train_tokens"]
        assert 12_000 - longest < tokens <= 12_000
        assert int(split.train.length.sum()) == tokens


def test_granular_marks_its_subtasks_and_unmarked_is_the_same_data_without_the_marks():
    vocab = TASK.vocab
    granular = split_of(condition="granular")
    unmarked = split_of(condition="unmarked")
    umbrella = split_of(condition="umbrella")
    g, u = granular.train.tokens, unmarked.train.tokens
    marks = [vocab.index[NAMES], vocab.index[ARGS]]
    assert np.isin(g, marks).any() and not np.isin(u, marks).any()
    assert np.array_equal(np.where(np.isin(g, marks), vocab.index[CALL], g), u)
    assert not np.isin(umbrella.train.tokens, marks).any()
    # the three conditions are tested on the very same prompts
    for name in ("id", "held", "single"):
        assert np.array_equal(granular.tests[name].tokens, umbrella.tests[name].tokens)


def test_seeds_for_pairs_data_and_init_are_separate():
    a = split_of(seed=0)
    same_pairs = make_split(TASK, CallSplitConfig(seed=0), 5)  # pairs fixed, data from 5
    assert a.record["trained_pairs"] == same_pairs.record["trained_pairs"]
    assert not np.array_equal(a.train.tokens[:50], same_pairs.train.tokens[:50])
    same_data = split_of(seed=5, data_seed=0)
    assert same_data.record["trained_pairs"] != a.record["trained_pairs"]


def test_bad_settings_say_what_is_allowed():
    with pytest.raises(ValueError, match="condition"):
        CallSplitConfig(condition="mixed")
    with pytest.raises(ValueError, match="coverage"):
        split_of(coverage=0.01)
    with pytest.raises(ValueError, match="functions"):
        CallConfig(functions=("MOVE", "FLY"))
    with pytest.raises(ValueError, match="budget"):
        CallSplitConfig(budget=10)


def test_a_tiny_run_reports_every_metric_per_split_and_kind(tmp_path):
    from toylab.cache import Cache

    cfg = override(decomposition.preset("coverage"), {
        "split.budget": 3000, "train.max_steps": 20, "split.n_test": 6, "split.n_val": 6,
        "seed": 3})
    result = decomposition.run(cfg, cache=Cache(tmp_path))
    m = result.metrics
    assert {"coverage", "condition", "budget", "pairs", "calls_per_cell", "kind"} <= set(m)
    held = m[(m.split == "held") & (m.kind == "all")]
    assert list(held.metric) == list(decomposition.METRICS)
    errors = held[held.metric.str.startswith("error_")].value.sum()
    assert errors + held[held.metric == "exact_match"].value.iloc[0] == pytest.approx(1)
    assert set(m[m.split == "held"].kind) == {"parallel", "chained", "nested", "all"}
    assert m[m.metric == "steps"].value.iloc[0] == result.info["steps"]
    assert decomposition.mistakes(result).shape[1] == 4
    assert decomposition.score(result) == held[held.metric == "exact_match"].value.iloc[0]
    with pytest.raises(ValueError, match="kinds here"):
        decomposition.score(result, kind="diagonal")


def test_the_mechanism_scores_read_the_output():
    gold = "COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up ) <eos>".split()
    outputs = ["COPY ( n = 4 c = blue ) <eos>".split(),      # one call for two
               "COPY TURN <eos>".split(),                     # a names subtask's answer
               "GROW ( n = 4 ) ; TURN ( x = $1 d = up ) <eos>".split(), gold]
    rows = decomposition.score_outputs([gold] * 4, outputs, {"GROW TURN"})
    assert list(rows.one_call) == [1, 0, 0, 0]
    assert list(rows.names_only) == [0, 1, 0, 0]
    assert list(rows.trained_pair) == [0, 0, 1, 0]
    assert list(rows.error) == ["name", "format", "name", "correct"]
    # a single call asked for a single function is not "one call for two"
    single = "TURN ( d = up ) <eos>".split()
    assert decomposition.score_outputs([single], [single], set()).one_call.iloc[0] == 0


def test_the_reading_tables_show_one_request_each_way():
    formats = decomposition.formats_table()
    assert len(formats) == 7  # umbrella: the call; granular and unmarked: call, names, args
    prompts = formats.prompt
    assert prompts["granular", "names"].endswith("<names>")
    assert prompts["unmarked", "names"] == prompts["umbrella", "call"]
    budget = decomposition.budget_table(0.6)
    assert (budget.tokens <= 24_000).all() and (budget.tokens > 23_000).all()
    assert budget.loc["umbrella", "subtask examples"] == 0
    assert budget.loc["granular", "full calls"] < budget.loc["umbrella", "full calls"]
    grid = decomposition.pair_grid(0.6)
    assert (grid.values == "trained").sum() == 18
    assert (grid.values == "held out").sum() == 12


def test_the_own_experiment_check_pairs_two_runs(tmp_path, capsys):
    from toylab.cache import Cache

    small = {"split.budget": 3000, "train.max_steps": 10, "split.n_test": 6,
             "split.n_val": 6, "seed": 2}
    runs = {c: decomposition.run(decomposition.preset("live", {
        **small, "split.condition": c}), cache=Cache(tmp_path)) for c in CONDITIONS}
    diff = decomposition.score(runs["granular"]) - decomposition.score(runs["umbrella"])
    assert check_decomposition_change(runs["granular"], runs["umbrella"], diff)
    assert not check_decomposition_change(runs["granular"], runs["umbrella"], diff + 0.5)
    assert check_decomposition_change(runs["granular"], runs["umbrella"], None) is False
    with pytest.raises(ValueError, match="granular run first"):
        check_decomposition_change(runs["umbrella"], runs["granular"], diff)
    other = decomposition.run(decomposition.preset("live", {
        **small, "seed": 3, "split.condition": "umbrella"}), cache=Cache(tmp_path))
    with pytest.raises(ValueError, match="more than the condition"):
        check_decomposition_change(runs["granular"], other, diff)


def test_views_draw_from_a_sweep_shaped_frame(tmp_path):
    from toylab.cache import Cache
    from toylab.views import to_png

    cfg = override(decomposition.preset("coverage"), {
        "split.budget": 3000, "train.max_steps": 10, "split.n_test": 6, "split.n_val": 6})
    live = decomposition.run(cfg, cache=Cache(tmp_path)).metrics
    frame = pd.concat([live.assign(seed=s, coverage=c, condition=k)
                       for s in range(2) for c in (0.2, 0.4) for k in CONDITIONS])
    for chart in (decomposition.coverage_curves(frame, live=live),
                  decomposition.error_bars(frame, live=live),
                  decomposition.paired_view(frame)):
        assert to_png(chart)[:4] == b"\x89PNG"
    diffs = decomposition.paired_table(frame, "granular", "umbrella")
    assert (diffs.difference == 0).all() and len(diffs) == 4


def test_coverage_shift_reads_the_reference_curve():
    ref = pd.Series([0.1, 0.3, 0.5], index=[0.2, 0.4, 0.6])
    shift = decomposition.coverage_shift(pd.Series([0.2, 0.5, 0.9], index=[0.2, 0.4, 0.6]),
                                         ref)
    assert shift == {0.2: pytest.approx(0.1), 0.4: pytest.approx(0.2), 0.6: None}


def test_the_error_check_uses_the_classifier(capsys):
    gold = "COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up )"
    parallel = "COPY ( n = 4 c = blue ) ; TURN ( d = up )"
    assert check_error_class(gold, parallel, "nesting")
    assert not check_error_class(gold, parallel, "argument")
    wrong = capsys.readouterr().out.split("Not yet")[-1]
    assert "one call inside the other" not in wrong  # the answer's hint is not given
    with pytest.raises(ValueError, match="answer"):
        check_error_class(gold, gold, "names")


def test_cells_print_as_kind_and_functions():
    assert str(CallCell("nested", ("GROW", "DROP"))) == "nested | GROW DROP"


def test_every_condition_draws_the_same_requests():
    umbrella = split_of(condition="umbrella", budget=6000)
    granular = split_of(condition="granular", budget=6000)
    n = min(len(umbrella.train), len(granular.train))
    assert umbrella.train.cells[:n] == granular.train.cells[:n]
