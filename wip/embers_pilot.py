"""Pilot for issue 15 (not part of the package; nothing imports it): does a tiny model
trained on a skewed cipher mixture show the shift-frequency and output-probability
effects? Prints exact match by direction and shift (rows) and band (columns), and the
share of wrong decodings that are a more probable sentence than the right one."""
import sys, time
from dataclasses import dataclass, field
from typing import Any
import numpy as np, pandas as pd
from toylab.experiment import Experiment, ExperimentConfig, Trained
from toylab.evaluate import decode_examples
from toylab.model import ModelConfig
from toylab.tasks import EOS
from toylab.tasks.ciphers import CipherConfig, CipherSplitConfig, BANDS
from toylab.train import TrainConfig
from toylab.config import override

@dataclass(frozen=True)
class Cfg(ExperimentConfig):
    task: Any = field(default_factory=CipherConfig)
    split: Any = field(default_factory=CipherSplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=3000, batch_size=32, lr=3e-3, target_accuracy=None, eval_every=1000))

class Pilot(Experiment):
    kind = "pilot.embers/0"
    config_class = Cfg
    def probe(self, cfg, trained: Trained):
        task, split, model = trained.task, trained.split, trained.model
        eos = task.vocab.index[EOS]
        rows = []
        for band, ex in split.tests.items():
            out = decode_examples(model, ex, task.max_len, eos, 256)
            for cell, t, o in zip(ex.cells, ex.targets(), out):
                gold = task.vocab.decode(t); pred = task.vocab.decode(o)
                right = list(gold) == list(pred)[:len(gold)]
                lp = task.language.logprob([x for x in pred if x != EOS]) if cell.direction == "decode" else np.nan
                rows.append({"band": band, "direction": cell.direction, "shift": cell.shift, "right": right,
                             "wrong_more_probable": (not right) and lp > task.language.logprob(gold[:-1])})
        df = pd.DataFrame(rows)
        g = df.groupby(["direction", "shift", "band"]).agg(acc=("right", "mean"), more=("wrong_more_probable", "mean")).reset_index()
        return [{"split": r.band, "part": "full", "metric": f"{r.direction}_{r.shift}", "value": r.acc, "n": 1} for r in g.itertuples()] + \
               [{"split": r.band, "part": "full", "metric": f"more_{r.direction}_{r.shift}", "value": r.more, "n": 1} for r in g.itertuples()], []

E = Pilot()
changes = eval(sys.argv[1]) if len(sys.argv) > 1 else {}
for seed in (0, 1):
    cfg = override(E.config_class(), {"seed": seed, "split.test_shifts": (1, 2, 3, 4), **changes})
    t = time.time()
    r = E.run(cfg, cache=False)
    m = r.metrics
    tab = m[~m.metric.str.startswith("more")].pivot_table(index="metric", columns="split", values="value")[list(BANDS)]
    more = m[m.metric.str.startswith("more_dec")].pivot_table(index="metric", columns="split", values="value")[list(BANDS)]
    print("seed", seed, changes, f"{time.time()-t:.1f}s", r.info["steps"]); print(tab.round(2)); print(more.round(2))
