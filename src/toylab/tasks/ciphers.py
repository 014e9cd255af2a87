"""The cipher family (chapter 5, after Embers of Autoregression, McCoy et al., PNAS 2024,
arXiv:2309.13638): a small synthetic language whose sentence probabilities are exactly
computable, and shift ciphers over its letters.

The *language* (``Language``) has ``n_words`` words, each two or three letters from the
first ``n_letters`` capital letters, and a word bigram chain: a start distribution and a
transition matrix, both drawn from a Dirichlet with a small ``concentration`` so that some
continuations are common and most are rare. A sentence is ``length`` words; its
log-probability is exact (start times transitions), and since there are only
``n_words ** length`` sentences, every one is enumerated with its log-probability.

Three kinds of example, each a *cell* (``CipherCell``: direction, shift, band)::

    <text> =                 ->  CAB _ DE _ FGA _ BC <eos>          (plain text)
    <dec> k3 = FDE _ GH ...  ->  CAB _ DE ... <eos>                 (decode shift 3)
    <enc> k3 = CAB _ DE ...  ->  FDE _ GH ... <eos>                 (encode shift 3)

A shift ``k`` moves every letter ``k`` places along the alphabet (modulo ``n_letters``); the
word separator ``_`` stays. Decoding outputs a sentence of the language, whose probability
varies; encoding outputs ciphertext, whose probability under the language is not the
point: the paper's built-in control.

*Bands* of sentences by exact log-probability (over all sentences, uniformly): ``high``
(the top ``band_share``), ``medium`` (the ``band_share`` around the median) and ``low`` (the
bottom ``band_share``); and ``shuffled``: medium sentences with their words put in a random
order (the paper's low-probability set is built this way), so the same words, less
probable. Training draws sentences from the chain itself (band ``any``), so probable
sentences are frequent in training, as text is on the Internet. Sentences are split
into a train and a test share by a salted hash, so no test sentence is ever trained on.

The split strategy (``make_cipher_split``) trains on a mixture: a ``text_share`` of plain
text, the rest cipher examples, decoding and encoding equally, with each shift's share of
them given by ``shift_shares`` (skewed: one common shift, rare others). The cipher
examples' sentences come from the chain too (``cipher_draw="chain"``), or uniformly from all
training sentences (``"uniform"``: then a ciphertext's frequency in training no longer
follows its sentence's probability; plain text still does). Its test splits are the bands,
each holding both directions of every test shift.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import Split
from toylab.tasks.base import Cell, Task, TestSplit, register_task
from toylab.tasks.data import EOS, SPECIAL_TOKENS, Examples, Vocab, hash_unit

LETTERS = "ABCDEFGHIJKLMNOP"
SEP = "_"
TEXT, DEC, ENC, ASK = "<text>", "<dec>", "<enc>", "="
DIRECTIONS = ("text", "decode", "encode")
BANDS = ("high", "medium", "low", "shuffled")
DRAWS = ("chain", "uniform")
MARKERS = {"text": TEXT, "decode": DEC, "encode": ENC}


@dataclass(frozen=True)
class CipherConfig:
    """The language and its alphabet.

    Attributes:
        n_letters: letters in the alphabet (the first of ``LETTERS``), 5-16; shifts are
            modulo this.
        n_words: words in the language, 4-30.
        length: words per sentence, 2-6 (``n_words ** length`` at most 200,000).
        concentration: the Dirichlet concentration of the start and transition
            probabilities, in (0, 10]; small values make a few continuations common.
        language_seed: draws the words and the chain, 0-2**31-1.
    """

    kind: ClassVar[str] = "ciphers"

    n_letters: int = 10
    n_words: int = 12
    length: int = 4
    concentration: float = 0.3
    language_seed: int = 0

    def __post_init__(self):
        check_range("n_letters", self.n_letters, 5, 16, integer=True)
        check_range("n_words", self.n_words, 4, 30, integer=True)
        check_range("length", self.length, 2, 6, integer=True)
        check_range("concentration", self.concentration, 1e-3, 10.0)
        check_range("language_seed", self.language_seed, 0, 2**31 - 1, integer=True)
        if self.n_words ** self.length > 200_000:
            raise ValueError(f"n_words ** length is {self.n_words ** self.length:,}; keep "
                             "it at most 200,000 (every sentence is enumerated)")
        if self.n_words > self.n_letters ** 2 + self.n_letters ** 3:
            raise ValueError("too many words for this alphabet")


@dataclass(frozen=True, order=True)
class CipherCell(Cell):
    """A direction (``text``, ``decode``, ``encode``), a shift (0 for text) and a band
    of sentences (``any``: drawn from the chain; or one of ``BANDS``)."""

    direction: str
    shift: int
    band: str = "any"

    @property
    def key(self) -> tuple:
        return (self.direction, self.shift, self.band)


class Language:
    """Words, a bigram chain over them, and every sentence with its exact log-probability.
    """

    def __init__(self, cfg: CipherConfig):
        rng = np.random.default_rng([cfg.language_seed, 0x1A96])
        letters = LETTERS[:cfg.n_letters]
        words: list[str] = []
        while len(words) < cfg.n_words:
            size = int(rng.integers(2, 4))
            word = "".join(letters[i] for i in rng.integers(0, cfg.n_letters, size))
            if word not in words:
                words.append(word)
        self.letters = letters
        self.words = tuple(words)
        alpha = np.full(cfg.n_words, cfg.concentration)
        self.start = rng.dirichlet(alpha)
        self.transition = rng.dirichlet(alpha, size=cfg.n_words)
        self.length = cfg.length
        # every sentence (as word indices) and its log-probability
        self.sentences = np.array(list(itertools.product(range(cfg.n_words),
                                                         repeat=cfg.length)), np.int64)
        self.logp = self.logprob_of(self.sentences)
        # each sentence's rank by log-probability, from 0 (least probable) to 1 (most)
        order = np.argsort(np.argsort(self.logp, kind="stable"), kind="stable")
        self.rank = order / (len(order) - 1)

    def logprob_of(self, sentences: np.ndarray) -> np.ndarray:
        """Exact log-probabilities of sentences given as rows of word indices."""
        s = np.atleast_2d(sentences)
        with np.errstate(divide="ignore"):
            out = np.log(self.start[s[:, 0]])
            for i in range(1, s.shape[1]):
                out = out + np.log(self.transition[s[:, i - 1], s[:, i]])
        return out

    def tokens(self, sentence: Sequence[int]) -> list[str]:
        """A sentence's tokens: the letters of each word, words separated by ``_``."""
        out: list[str] = []
        for i, w in enumerate(sentence):
            if i:
                out.append(SEP)
            out.extend(self.words[int(w)])
        return out

    def parse(self, tokens: Sequence[str]) -> tuple[int, ...] | None:
        """Word indices of a sentence's tokens; None if it is not a sentence."""
        text = "".join(tokens).split(SEP)
        if len(text) != self.length or any(w not in self.words for w in text):
            return None
        return tuple(self.words.index(w) for w in text)

    def logprob(self, tokens: Sequence[str]) -> float:
        """Exact log-probability of a sentence's tokens (-inf if it is not a sentence)."""
        parsed = self.parse(tokens)
        return -np.inf if parsed is None else float(self.logprob_of(np.array(parsed))[0])


def shift_tokens(tokens: Sequence[str], k: int, letters: str) -> list[str]:
    """Every letter moved ``k`` places along ``letters`` (modulo its length); other tokens
    unchanged."""
    n = len(letters)
    return [letters[(letters.index(t) + k) % n] if t in letters else t for t in tokens]


@dataclass(frozen=True)
class CipherSplitConfig:
    """What training mixes, and what is tested.

    Attributes:
        n_train: training examples, 1-200,000.
        text_share: share of them that are plain text, in [0, 1).
        shift_shares: (shift, weight) pairs: each trained shift and its weight among the
            cipher examples (normalized); a shift is 1 to n_letters - 1.
        test_shifts: shifts the test splits ask for (any of 1 to n_letters - 1, trained
            or not).
        n_test: test examples per direction, shift and band, 1-5,000.
        n_val: validation examples (decode and encode of the trained shifts), 1-5,000.
        band_share: share of all sentences in each band, in (0, 0.33].
        test_share: share of sentences kept out of training, in [0.05, 0.5].
        cipher_draw: where the cipher examples' sentences come from: ``chain`` (as plain
            text) or ``uniform`` (every training sentence equally).
    """

    n_train: int = 20_000
    text_share: float = 0.3
    shift_shares: tuple[tuple[int, float], ...] = ((3, 0.7), (1, 0.2), (2, 0.1))
    test_shifts: tuple[int, ...] = (1, 2, 3)
    n_test: int = 64
    n_val: int = 128
    band_share: float = 0.1
    test_share: float = 0.2
    cipher_draw: str = "chain"

    def __post_init__(self):
        check_range("n_train", self.n_train, 1, 200_000, integer=True)
        check_range("text_share", self.text_share, 0.0, 1.0 - 1e-9)
        if not self.shift_shares or any(len(p) != 2 for p in self.shift_shares):
            raise ValueError("shift_shares must be (shift, weight) pairs, at least one")
        for k, w in self.shift_shares:
            check_range("shift", k, 1, 15, integer=True)
            check_range("shift weight", w, 1e-9, 1e9)
        if len({k for k, _ in self.shift_shares}) != len(self.shift_shares):
            raise ValueError("each shift may appear once in shift_shares")
        if not self.test_shifts:
            raise ValueError("test_shifts must name at least one shift")
        for k in self.test_shifts:
            check_range("test shift", k, 1, 15, integer=True)
        check_range("n_test", self.n_test, 1, 5_000, integer=True)
        check_range("n_val", self.n_val, 1, 5_000, integer=True)
        check_range("band_share", self.band_share, 1e-3, 0.33)
        check_range("test_share", self.test_share, 0.05, 0.5)
        check_choice("cipher_draw", self.cipher_draw, DRAWS)


@register_task
class CipherTask(Task):
    config_class = CipherConfig
    split_config_class = CipherSplitConfig
    test_splits = (
        TestSplit("high", "sentences of high probability", "#1b7837"),
        TestSplit("medium", "sentences of medium probability", "#bf812d"),
        TestSplit("low", "sentences of low probability", "#c51b7d"),
        TestSplit("shuffled", "medium sentences, words shuffled", "#762a83"),
    )

    def __init__(self, config: CipherConfig):
        super().__init__(config)
        self.language = Language(config)
        shifts = [f"k{k}" for k in range(1, config.n_letters)]
        self._vocab = Vocab([*SPECIAL_TOKENS, TEXT, DEC, ENC, ASK, SEP, *shifts,
                             *self.language.letters])

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    @property
    def max_len(self) -> int:
        sentence = self.config.length * 4 - 1  # words of at most 3 letters, separators
        return 3 + 2 * sentence + 1

    def grid(self) -> list[CipherCell]:
        out = [CipherCell("text", 0, band) for band in ("any", *BANDS)]
        return out + [CipherCell(d, k, band) for d in ("decode", "encode")
                      for k in range(1, self.config.n_letters) for band in ("any", *BANDS)]

    # --- one example ---------------------------------------------------------------------

    def example(self, cell: CipherCell, sentence: Sequence[int]
                ) -> tuple[list[str], list[str]]:
        """Prompt and target tokens of ``cell`` for one sentence (word indices)."""
        plain = self.language.tokens(sentence)
        if cell.direction == "text":
            return [TEXT, ASK], plain + [EOS]
        cipher = shift_tokens(plain, cell.shift, self.language.letters)
        if cell.direction == "decode":
            return [DEC, f"k{cell.shift}", ASK, *cipher], plain + [EOS]
        return [ENC, f"k{cell.shift}", ASK, *plain], cipher + [EOS]

    def solve(self, prompt: Sequence[str]) -> list[str]:
        prompt = list(prompt)
        if prompt[:2] == [TEXT, ASK]:
            raise ValueError("plain text has no single answer: it is a draw from the "
                             "language")
        if len(prompt) < 4 or prompt[0] not in (DEC, ENC) or prompt[2] != ASK:
            raise ValueError(f"not a cipher prompt: {' '.join(prompt)}")
        k = int(prompt[1][1:])
        body = prompt[3:]
        k = -k if prompt[0] == DEC else k
        return shift_tokens(body, k, self.language.letters) + [EOS]

    # --- which sentences go where ---------------------------------------------------

    @functools.lru_cache(maxsize=32)  # noqa: B019 (a task is small and lives long)
    def _share(self, salt: int, test_share: float) -> np.ndarray:
        """For every sentence: 0 train, 1 val, 2 test (val is the first half of the test
        share)."""
        u = hash_unit(np.arange(len(self.language.sentences)), salt)
        return np.where(u >= test_share, 0, np.where(u < test_share / 2, 1, 2))

    def band_mask(self, band: str, band_share: float) -> np.ndarray:
        """Sentences in one band (``any``: all of them; ``shuffled``: the medium ones,
        which are then shuffled)."""
        if band in ("any", "uniform"):
            return np.ones(len(self.language.logp), bool)
        check_choice("band", band, BANDS)
        rank = self.language.rank
        if band == "high":
            return rank >= 1 - band_share
        if band == "low":
            return rank <= band_share
        return np.abs(rank - 0.5) <= band_share / 2  # medium, and shuffled's source

    def _index(self, sentences: np.ndarray) -> np.ndarray:
        """Row numbers in ``language.sentences`` of sentences given as word indices."""
        n = self.config.n_words
        powers = n ** np.arange(self.config.length - 1, -1, -1)
        return np.atleast_2d(sentences) @ powers

    def _shuffled(self, idx: np.ndarray, n: int, rng: np.random.Generator,
                  keep: np.ndarray) -> np.ndarray:
        """``n`` sentences made by putting the words of sentences ``idx`` in a random
        order, each another sentence of the share ``keep`` and less probable than the
        one it came from."""
        lang = self.language
        out: list[int] = []
        for _ in range(200 * n):
            source = int(rng.choice(idx))
            words = rng.permutation(lang.sentences[source])
            new = int(self._index(words)[0])
            if new != source and keep[new] and lang.logp[new] < lang.logp[source]:
                out.append(new)
                if len(out) == n:
                    return np.array(out)
        raise ValueError("too few shuffled sentences in this share; raise band_share or "
                         "test_share")

    def draw_sentences(self, band: str, n: int, rng: np.random.Generator, pool: str,
                       salt: int, test_share: float = 0.2, band_share: float = 0.1
                       ) -> np.ndarray:
        """``n`` sentences (rows of word indices) from one share: from the chain itself
        (band ``any``), uniformly among all of them (``uniform``) or among the sentences
        of a band."""
        check_choice("pool", pool, ("train", "val", "test"))
        code = {"train": 0, "val": 1, "test": 2}[pool]
        share = self._share(salt, test_share) == code
        keep = share & self.band_mask(band, band_share)
        idx = np.flatnonzero(keep)
        if not len(idx):
            raise ValueError(f"no sentence of band {band!r} in the {pool} share")
        if band == "shuffled":
            return self.language.sentences[self._shuffled(idx, n, rng, share)]
        if band == "any":
            p = np.exp(self.language.logp[idx])
            chosen = rng.choice(idx, size=n, p=p / p.sum())
        elif band == "uniform":
            chosen = rng.choice(idx, size=n)
        else:
            chosen = rng.choice(idx, size=n)
        return self.language.sentences[chosen]

    def sample(self, cell: CipherCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.2) -> Examples:
        sentences = self.draw_sentences(cell.band, n, rng, pool, salt, test_share)
        return self.encode([self.example(cell, s) for s in sentences], [cell] * n)

    def encode(self, rows, cells) -> Examples:
        enc = self._vocab.encode
        return Examples.pad([(enc(p), enc(t)) for p, t in rows], cells)

    def make_split(self, cfg: CipherSplitConfig, seed: int) -> Split:
        return make_cipher_split(self, cfg, seed)

    def cell_columns(self, cell: CipherCell) -> dict:
        return {"direction": cell.direction, "shift": cell.shift, "band": cell.band}


def make_cipher_split(task: CipherTask, cfg: CipherSplitConfig, seed: int) -> Split:
    """Training mixture, validation and the three band test splits (module docstring)."""
    n_letters = task.config.n_letters
    for k in [k for k, _ in cfg.shift_shares] + list(cfg.test_shifts):
        if not 1 <= k < n_letters:
            raise ValueError(f"shift {k} is outside 1 to {n_letters - 1}")
    rng = np.random.default_rng([seed, 0xC1F4])
    salt = int(np.random.default_rng([seed, 0x5A17]).integers(0, 2**62))
    shifts = np.array([k for k, _ in cfg.shift_shares])
    weights = np.array([w for _, w in cfg.shift_shares], float)
    weights /= weights.sum()
    # which cell each training example is, then its sentence from the chain
    is_text = rng.random(cfg.n_train) < cfg.text_share
    direction = np.where(rng.random(cfg.n_train) < 0.5, "decode", "encode")
    shift = rng.choice(shifts, size=cfg.n_train, p=weights)
    sentences = task.draw_sentences("any", cfg.n_train, rng, "train", salt,
                                    cfg.test_share, cfg.band_share)
    if cfg.cipher_draw == "uniform":  # cipher examples: every training sentence equally
        gen = np.random.default_rng([seed, 0xD4A3])
        flat = task.draw_sentences("uniform", cfg.n_train, gen, "train", salt,
                                   cfg.test_share, cfg.band_share)
        sentences = np.where(is_text[:, None], sentences, flat)
    cells = [CipherCell("text", 0) if t else CipherCell(str(d), int(k))
             for t, d, k in zip(is_text, direction, shift)]
    train = task.encode([task.example(c, s) for c, s in zip(cells, sentences)], cells)

    def block(cell_list, n, pool, stream):
        gen = np.random.default_rng([seed, 0x7E57, stream])
        rows, out_cells = [], []
        for cell in cell_list:
            for s in task.draw_sentences(cell.band, n, gen, pool, salt, cfg.test_share,
                                         cfg.band_share):
                rows.append(task.example(cell, s))
                out_cells.append(cell)
        return task.encode(rows, out_cells)

    trained = [CipherCell(d, int(k)) for d in ("decode", "encode") for k in shifts]
    val = block(trained, max(1, cfg.n_val // len(trained)), "val", 0)
    test_cells = {band: [CipherCell(d, k, band) for d in ("decode", "encode")
                         for k in cfg.test_shifts] for band in BANDS}
    tests = {band: block(cells_, cfg.n_test, "test", i + 1)
             for i, (band, cells_) in enumerate(test_cells.items())}
    counts = {f"shift_{int(k)}": int((shift[~is_text] == k).sum()) for k in shifts}
    split = Split(
        train=train, patch=Examples.empty(), val=val, tests=tests,
        train_cells=sorted(set(cells)), test_cells=test_cells, patch_cells=[],
        coverage=len(shifts) / (n_letters - 1),
        record={"trained_shifts": [int(k) for k in shifts],
                "text_examples": int(is_text.sum()), **counts},
        in_distribution=BANDS)
    split.check_no_leakage()
    return split
