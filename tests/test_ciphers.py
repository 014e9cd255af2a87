"""The cipher family (``toylab.tasks.ciphers``, chapter 5): the language's probabilities
are exact, the ciphers invert, the bands are ordered, the mixture has the shares it is
given, and no test sentence is trained on."""

import itertools

import numpy as np
import pytest

from toylab.splits import make_split
from toylab.tasks import EOS
from toylab.tasks.ciphers import (
    BANDS,
    CipherCell,
    CipherConfig,
    CipherSplitConfig,
    CipherTask,
    shift_tokens,
)

TASK = CipherTask(CipherConfig())


def test_every_sentence_has_an_exact_probability_and_they_sum_to_one():
    lang = TASK.language
    assert len(lang.sentences) == 12 ** 4
    assert np.exp(lang.logp).sum() == pytest.approx(1.0)
    # one sentence by hand: start times each transition
    s = lang.sentences[1234]
    by_hand = np.log(lang.start[s[0]]) + sum(np.log(lang.transition[a, b])
                                             for a, b in zip(s, s[1:]))
    assert lang.logp[1234] == pytest.approx(by_hand)
    assert lang.logprob(lang.tokens(s)) == pytest.approx(by_hand)
    assert lang.logprob(["A", "A", "A"]) == -np.inf  # not a sentence


def test_the_language_is_fixed_by_its_seed():
    again = CipherTask(CipherConfig())
    other = CipherTask(CipherConfig(language_seed=1))
    assert again.language.words == TASK.language.words
    assert np.array_equal(again.language.logp, TASK.language.logp)
    assert other.language.words != TASK.language.words


def test_ciphers_invert_and_keep_the_separator():
    letters = TASK.language.letters
    plain = TASK.language.tokens(TASK.language.sentences[77])
    for k in range(1, len(letters)):
        cipher = shift_tokens(plain, k, letters)
        assert cipher.count("_") == plain.count("_")
        assert shift_tokens(cipher, -k, letters) == plain
        assert cipher != plain


def test_solve_agrees_with_every_sampled_target():
    rng = np.random.default_rng(0)
    for cell in [CipherCell("decode", 3), CipherCell("encode", 1, "low"),
                 CipherCell("decode", 7, "high")]:
        ex = TASK.sample(cell, 20, rng, "train", salt=5)
        for prompt, target in zip(ex.prompts(), ex.targets()):
            assert TASK.solve(TASK.vocab.decode(prompt)) == TASK.vocab.decode(target)
            assert TASK.vocab.decode(target)[-1] == EOS
    with pytest.raises(ValueError, match="draw from the language"):
        TASK.solve(["<text>", "="])


def test_bands_are_ordered_by_probability_and_training_follows_the_chain():
    rng = np.random.default_rng(1)
    means = {band: TASK.language.logprob_of(
        TASK.draw_sentences(band, 200, rng, "test", salt=3)).mean() for band in BANDS}
    assert means["high"] > means["medium"] > means["low"]
    assert means["medium"] > means["shuffled"]
    # sentences drawn from the chain are far more probable than a band's uniform draw
    chain = TASK.language.logprob_of(TASK.draw_sentences("any", 400, rng, "train", 3))
    assert chain.mean() > means["medium"]


def test_the_mixture_has_its_shares_and_no_test_sentence_is_trained():
    cfg = CipherSplitConfig(n_train=4000, text_share=0.25,
                            shift_shares=((3, 0.8), (1, 0.2)), test_shifts=(1, 3, 5),
                            n_test=8, n_val=16)
    split = make_split(TASK, cfg, 0)
    rec = split.record
    assert rec["text_examples"] == pytest.approx(1000, abs=100)
    assert rec["shift_3"] / (rec["shift_3"] + rec["shift_1"]) == pytest.approx(0.8,
                                                                              abs=0.03)
    assert set(split.tests) == set(BANDS)
    assert len(split.tests["low"]) == 2 * 3 * 8  # directions x shifts x n_test
    split.check_no_leakage()
    # test sentences never appear in any training example
    def sentences(ex):
        out = set()
        for prompt, target in zip(ex.prompts(), ex.targets()):
            p, t = TASK.vocab.decode(prompt), TASK.vocab.decode(target)
            plain = t[:-1] if p[0] in ("<text>", "<dec>") else p[3:]
            out.add(tuple(plain))
        return out
    trained = sentences(split.train)
    for band in BANDS:
        assert not trained & sentences(split.tests[band]), band


def test_shuffled_sentences_are_medium_words_in_a_less_probable_order():
    rng = np.random.default_rng(2)
    lang = TASK.language
    medium = TASK.band_mask("medium", 0.1)
    test = TASK._share(3, 0.2) == 2
    out = TASK.draw_sentences("shuffled", 100, rng, "test", salt=3)
    for s in out:
        assert test[TASK._index(s)[0]]  # a test sentence itself
        # some order of its words is a medium test sentence more probable than it
        sources = [TASK._index(np.array(p))[0] for p in itertools.permutations(s)]
        assert any(medium[i] and test[i] and lang.logp[i] > lang.logprob_of(s)[0]
                   for i in sources)


def test_uniform_cipher_sentences_leave_plain_text_on_the_chain():
    base = dict(n_train=6000, test_shifts=(3,), n_test=4, n_val=16)
    chain = make_split(TASK, CipherSplitConfig(**base), 0)
    flat = make_split(TASK, CipherSplitConfig(**base, cipher_draw="uniform"), 0)
    def mean_logp(split, marker):
        rows = [TASK.vocab.decode(t)[:-1] for p, t in zip(split.train.prompts(),
                                                         split.train.targets())
                if TASK.vocab.decode(p)[0] == marker]
        return np.mean([TASK.language.logprob(r) for r in rows])
    assert mean_logp(flat, "<text>") == mean_logp(chain, "<text>")  # the same draws
    # decoding targets are plain sentences: uniform ones are far less probable
    assert mean_logp(flat, "<dec>") < mean_logp(chain, "<dec>") - 5
    with pytest.raises(ValueError, match="cipher_draw"):
        CipherSplitConfig(cipher_draw="zipf")


def test_bad_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="200,000"):
        CipherConfig(n_words=30, length=4)
    with pytest.raises(ValueError, match="once"):
        CipherSplitConfig(shift_shares=((3, 0.5), (3, 0.5)))
    with pytest.raises(ValueError, match="outside"):
        make_split(TASK, CipherSplitConfig(test_shifts=(12,)), 0)
