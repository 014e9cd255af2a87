import numpy as np
import pytest

from toylab.tasks import (
    TASKS,
    Examples,
    LetterCell,
    LetterConfig,
    LetterTask,
    make_task,
    sample_strings,
    transform_fn,
)

CONFIGS = [
    LetterConfig(),
    LetterConfig(trace=False),
    LetterConfig(alphabet_size=26, lengths=(2, 7), depths=(1, 3),
                 transforms=("rot13", "shift2", "swap")),
    LetterConfig(noise_p=0.3, noise_kind="insert", noise_on=("element",)),
]


def decode_rows(task, ex: Examples):
    v = task.vocab
    return [(v.decode(p), v.decode(t)) for p, t in zip(ex.prompts(), ex.targets())]


def test_docstring_worked_example():
    task = LetterTask(LetterConfig())
    prompt = "A B C D [rot3] [reverse] <think>".split()
    assert task.solve(prompt) == "D E F G [reverse] <answer> G F E D <eos>".split()
    task = LetterTask(LetterConfig(trace=False))
    prompt = "A B C D [rot3] [reverse] <answer>".split()
    assert task.solve(prompt) == "G F E D <eos>".split()


@pytest.mark.parametrize("name, before, after", [
    ("rot3", "ABCH", "DEFC"), ("shift1", "ABCD", "BCDA"), ("reverse", "ABCD", "DCBA"),
    ("atbash", "ABCH", "HGFA"), ("swap", "ABCDE", "BADCE")])
def test_transforms_on_an_eight_letter_alphabet(name, before, after):
    x = np.array([[ord(c) - 65 for c in before]])
    assert "".join(chr(65 + i) for i in transform_fn(name)(x, 8)[0]) == after


@pytest.mark.parametrize("cfg", CONFIGS)
def test_reference_solver_agrees_with_every_clean_cell(cfg):
    task = make_task(cfg)
    rng = np.random.default_rng(0)
    for cell in task.grid():
        ex = task.sample(cell, 5, rng, "train", salt=1)
        for prompt, target in decode_rows(task, ex):
            if cell.fmt == "clean":
                assert task.solve(prompt) == target
            assert target[-1] == "<eos>"


def test_noise_corrupts_prompts_only():
    task = make_task(CONFIGS[3])
    rng = np.random.default_rng(0)
    clean_cell = LetterCell(("rot3", "shift1"), 4)
    noisy = task.sample(LetterCell(("rot3", "shift1"), 4, "noisy"), 200, rng, "train", 1)
    changed = 0
    for prompt, target in decode_rows(task, noisy):
        clean_prompt = [t for t in prompt if t != "<unk>"]  # insert noise only
        assert task.solve(clean_prompt) == target
        changed += "<unk>" in prompt
    assert 0 < changed < 200
    assert clean_cell in task.grid()


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_every_task_is_deterministic_given_its_rng(kind):
    task = make_task(TASKS[kind].config_class())
    for cell in task.grid():
        a = task.sample(cell, 7, np.random.default_rng(3), "test", salt=9)
        b = task.sample(cell, 7, np.random.default_rng(3), "test", salt=9)
        assert np.array_equal(a.tokens, b.tokens) and a.cells == b.cells


@pytest.mark.parametrize("alphabet, length", [(4, 3), (26, 6)])
def test_train_and_test_shares_never_overlap(alphabet, length):
    rng = np.random.default_rng(0)
    train = sample_strings(alphabet, length, 3000, rng, "train", 5, 0.2)
    test = sample_strings(alphabet, length, 3000, rng, "test", 5, 0.2)
    assert not {tuple(r) for r in train} & {tuple(r) for r in test}
    other_salt = sample_strings(alphabet, length, 3000, rng, "test", 6, 0.2)
    assert {tuple(r) for r in other_salt} != {tuple(r) for r in test}


def test_empty_share_is_a_clear_error():
    with pytest.raises(ValueError, match="share"):
        sample_strings(2, 1, 5, np.random.default_rng(0), "test", 0, 0.05)


@pytest.mark.parametrize("bad, match", [
    ({"alphabet_size": 1}, "alphabet_size"), ({"transforms": ("rot8",)}, "does nothing"),
    ({"transforms": ("flip",)}, "unknown transformation"), ({"depths": (0,)}, "depths"),
    ({"noise_p": 1.5}, "noise_p"), ({"noise_on": ("letters",)}, "noise_on"),
    ({"lengths": (4, 4)}, "repeat")])
def test_bad_task_configs_say_what_is_allowed(bad, match):
    with pytest.raises(ValueError, match=match):
        LetterConfig(**bad)


def test_parts_split_reasoning_and_answer():
    task = LetterTask(LetterConfig())
    parts = task.parts("D E F G [reverse] <answer> G F E D <eos>".split())
    assert parts["reasoning"] == "D E F G [reverse]".split()
    assert parts["answer"] == "G F E D".split()
    assert task.parts("D E F G".split())["answer"] == []


def test_solver_rejects_foreign_tokens_clearly():
    task = LetterTask(LetterConfig(transforms=("rot3", "atbash")))
    with pytest.raises(ValueError, match="not letters or transformations"):
        task.solve("A B [reverse] <think>".split())
    with pytest.raises(ValueError, match="not a clean prompt"):
        task.solve("A B".split())
