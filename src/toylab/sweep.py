"""Sweeps: a named grid of configs over several seeds, run in parallel, as one tidy CSV.

A sweep file (JSON, shipped in ``toylab/sweeps/``) names an experiment module, a few fixed
overrides, a grid and the seeds::

    {
      "description": "what the sweep shows",
      "experiment": "toylab.experiments.toy_lab",
      "preset": "toylab",
      "base": {"task.transforms": ["rot3", "shift1"]},
      "grid": {"split.coverage": [0.25, 0.5, 0.75], "task.trace": [true, false]},
      "seeds": [0, 1, 2, 3, 4]
    }

Every combination of grid values is run once per seed. An experiment module holds its
``EXPERIMENT`` (a ``toylab.experiment.Experiment``: its cache kind, presets and ``run``);
``preset`` (optional) names one of its presets to start from, before ``base``. Each run
goes through the cache, so a sweep that is stopped and started again only runs what is
missing. Workers are separate processes; each trains on the config's ``train.threads`` (1
by default: two cores, two workers).

With ``scheduler=`` (``python -m toylab sweep NAME --scheduler HOST:PORT``) the runs go to
an existing Dask cluster instead (``pip install "toylab[cluster]"``): each worker computes a
run without any cache and sends the result back, and the caller stores it in its own cache,
so the workers need no shared disk and a stopped sweep still resumes.

Columns of the CSV: the columns every run of the experiment carries (the config fields it
reports, e.g. ``coverage``, and the counts it derives), a column for any other grid field
(named by the field's last part), then ``seed, split, part, metric, value, n``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import itertools
import json
import multiprocessing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from toylab.cache import Cache, code_version, key
from toylab.config import override
from toylab.experiment import METRIC_COLUMNS


@dataclass(frozen=True)
class Job:
    """One run of a sweep: the grid values that name it and its full config."""

    columns: tuple[tuple[str, Any], ...]
    config: Any


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    experiment: str
    preset: str | None
    base: dict
    grid: dict
    seeds: tuple[int, ...]

    def columns(self) -> dict[str, str]:
        """Grid path -> column name: the name the experiment reports it under
        (``Experiment.columns``), else its last part, unless two grid fields share it or
        it would clash with a metric column (``split.seed`` is not ``seed``)."""
        reported = {path: name for name, path in
                    experiment_of(self.experiment).columns.items()}
        short = {path: reported.get(path, path.split(".")[-1]) for path in self.grid}
        clash = [p for p in short if list(short.values()).count(short[p]) > 1
                 or short[p] in METRIC_COLUMNS]
        return {p: (p.replace(".", "_") if p in clash else s) for p, s in short.items()}

    def jobs(self) -> list[Job]:
        """Every grid point x seed, as validated configs (a bad value fails here)."""
        start = experiment_of(self.experiment).default_config(self.preset)
        base = override(start, self.base)
        names = self.columns()
        out = []
        for values in itertools.product(*self.grid.values()):
            point = dict(zip(self.grid, values))
            try:
                cfg = override(base, point)
            except ValueError as err:
                raise ValueError(f"sweep {self.name!r}, grid point {point}: {err}"
                                 ) from None
            for seed in self.seeds:
                cols = tuple((names[p], v) for p, v in point.items())
                out.append(Job(cols, override(cfg, {"seed": seed})))
        return out


def experiment_of(module: str):
    """The ``EXPERIMENT`` of an experiment module, e.g. ``toylab.experiments.toy_lab``."""
    try:
        found = importlib.import_module(module).EXPERIMENT
    except (ImportError, AttributeError) as err:
        raise ValueError(f"{module!r} is not an experiment module (one that defines "
                         f"EXPERIMENT): {err}") from None
    return found


def available() -> list[str]:
    """Names of the sweeps shipped with the package."""
    folder = resources.files("toylab") / "sweeps"
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".json") and not p.name.endswith(PLATFORM_SUFFIX))


# ---------------------------------------------------------------------------------------
# Where a sweep was made, and how closely another processor reproduces it

#: Written beside a sweep's CSV: the platform that made it.
PLATFORM_SUFFIX = ".platform.json"
#: Largest difference allowed between the shipped and a recomputed mean over seeds (of the
#: full-output exact match at one grid point) when the recomputing platform differs. Set
#: from the drift measured on one machine between its native AVX512 kernels and torch's
#: AVX2 and default ones (``ATEN_CPU_CAPABILITY``), all nine shipped sweeps recomputed: at
#: most 0.163 (interpolation_coverage, AVX2; 0.149 for interpolation_patch with the default
#: kernels); single seeds moved by up to 0.78, so no tolerance per seed would mean
#: anything. Every finding test passed on both recomputed sets of sweeps.
MEAN_TOLERANCE = 0.25


def platform_record() -> dict[str, str]:
    """What decides the floating-point path of a run here: torch's version, the CPU
    capability its kernels use, the processor and the machine type."""
    import platform

    import torch

    processor = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    return {"torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "processor": processor, "machine": platform.machine()}


def shipped_platform(name: str) -> dict[str, str] | None:
    """The platform that made a shipped sweep (None if it was not recorded)."""
    file = resources.files("toylab") / "sweeps" / f"{name}{PLATFORM_SUFFIX}"
    return json.loads(file.read_text()) if file.is_file() else None


def made_here(name: str) -> bool:
    """Whether this platform is the one that made the shipped sweep ``name`` (then its
    runs reproduce exactly)."""
    return shipped_platform(name) == platform_record()


@dataclass(frozen=True)
class Reproduction:
    """How a recomputed sweep compares with the shipped one (full-output exact match)."""

    identical: bool
    max_seed_difference: float
    max_mean_difference: float  # over seeds, at one grid point

    @property
    def within_tolerance(self) -> bool:
        return self.identical or self.max_mean_difference <= MEAN_TOLERANCE


def compare(shipped_frame: pd.DataFrame, recomputed: pd.DataFrame) -> Reproduction:
    """Compare two frames of the same sweep, row by row and by means over seeds."""
    if set(shipped_frame.columns) != set(recomputed.columns) or len(
            shipped_frame) != len(recomputed):
        raise ValueError("the two frames are not of the same sweep (columns or rows "
                         "differ)")
    # a column some runs lack (e.g. a training step only two-phase runs report) lands
    # wherever the first run that has it puts it: compare by name, not by position
    a = shipped_frame.reset_index(drop=True)
    b = recomputed[list(shipped_frame.columns)].reset_index(drop=True)
    identical = a.equals(b)
    exact = (a.metric == "exact_match") & (a.part == "full")
    # means over seeds: group by what names a grid point and a metric row, leaving out
    # counts a run derives for its own seed (e.g. training examples drawn), which would
    # make every "mean" a single seed's value
    keys = [c for c in a.columns if c not in ("seed", "value", "n")]
    per_seed = [c for c in keys if a.groupby("seed")[c].agg(
        lambda v: tuple(sorted(map(str, v.unique())))).nunique() > 1]
    keys = [c for c in keys if c not in per_seed]
    means = [f[exact].groupby(keys, dropna=False).value.mean() for f in (a, b)]
    return Reproduction(identical, float((a.value - b.value)[exact].abs().max()),
                        float((means[0] - means[1]).abs().max()))


def load_spec(name: str) -> SweepSpec:
    """A shipped sweep by name, or a sweep file by path."""
    path = Path(name)
    if path.suffix == ".json" and path.exists():
        text = path.read_text()
    else:
        file = resources.files("toylab") / "sweeps" / f"{name}.json"
        if not file.is_file():
            raise ValueError(f"no sweep named {name!r}; shipped sweeps: {available()} "
                             "(or give the path of a .json sweep file)")
        text = file.read_text()
    raw = json.loads(text)
    missing = {"experiment", "grid", "seeds"} - set(raw)
    if missing:
        raise ValueError(f"sweep {name!r} lacks {sorted(missing)}")
    if not raw["seeds"] or not all(isinstance(s, int) for s in raw["seeds"]):
        raise ValueError(f"sweep {name!r}: seeds must be a non-empty list of integers")
    if not all(isinstance(v, list) and v for v in raw["grid"].values()):
        raise ValueError(f"sweep {name!r}: every grid field needs a non-empty list")
    return SweepSpec(Path(name).stem, raw.get("description", ""), raw["experiment"],
                     raw.get("preset"), raw.get("base", {}), raw["grid"],
                     tuple(raw["seeds"]))


def shipped(name: str) -> pd.DataFrame:
    """The results of a shipped sweep, as produced by ``python -m toylab sweep NAME``."""
    file = resources.files("toylab") / "sweeps" / f"{name}.csv"
    if not file.is_file():
        raise ValueError(f"no shipped results for sweep {name!r}; run "
                         f"'python -m toylab sweep {name} --out {file}' to make them")
    with file.open() as f:
        return pd.read_csv(f)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run_job(module: str, config: Any, cache_root: str) -> None:
    experiment_of(module).run(config, cache=Cache(cache_root))


def _compute_job(module: str, config: Any, code: str | None = None) -> dict:
    """One run's payload, computed on a cluster worker with no cache (the caller keeps it),
    on the config's torch threads, as a local run computes it. ``code``, the caller's
    ``code_version()``, must match the worker's: the caller files the payload under a key
    made from its own code."""
    if code is not None and code != code_version():
        raise ValueError(f"this Dask worker runs toylab {code_version()}, the caller "
                         f"{code}; install the same toylab on the workers as here")
    return experiment_of(module).payload(config)


def _client(scheduler: str, timeout: float):
    """A Dask client connected to ``scheduler``, or a ValueError that says what to do."""
    try:
        from distributed import Client
        from distributed.comm import get_address_host_port
    except ImportError:
        raise ValueError('running a sweep on a Dask cluster needs the cluster extra: '
                         'pip install "toylab[cluster]"') from None
    try:
        get_address_host_port(scheduler)
    except ValueError as err:
        raise ValueError(f"{scheduler!r} is not a Dask scheduler address ({err}); give it "
                         "as host:port or tcp://host:port") from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except Exception as err:  # a timeout, a refusal, or a service that is not Dask
        raise ValueError(f"cannot reach a Dask scheduler at {scheduler!r} "
                         f"({type(err).__name__}: {err})") from None


#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = 20.0


def _run_on_cluster(experiment: str, todo: list[Job], cache: Cache, scheduler: str,
                    bar: tqdm) -> None:
    """Run ``todo`` on the cluster at ``scheduler``; each payload comes back here and is
    saved in this machine's ``cache`` as its future completes (workers need no shared
    disk)."""
    kind = experiment_of(experiment).kind
    client = _client(scheduler, CONNECT_TIMEOUT)
    from distributed import as_completed  # importable: _client checked

    try:
        futures = {client.submit(_compute_job, experiment, job.config, code_version(),
                                 pure=False): job for job in todo}
        try:
            for fut in as_completed(futures, loop=client.loop):
                cache.save(key(kind, futures[fut].config), fut.result())
                bar.update()
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()


def make_pool(workers: int, experiment: str = "toylab.experiments.toy_lab"
              ) -> cf.ProcessPoolExecutor:
    """Worker processes forked from a server that has imported the experiment (and torch)
    once but started no torch threads, so forking is safe and each worker starts at once.
    Where there is no fork server (Windows), workers are spawned."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # torch's optimizers import torch._dynamo on first use (the benchmark measures
        # it: design_choices, first_optimizer)
        ctx.set_forkserver_preload([experiment, "torch._dynamo"])
    return cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)


def run_jobs(experiment: str, jobs: list[Job], cache: Cache, workers: int = 2,
             progress: bool = True, pool: cf.Executor | None = None,
             scheduler: str | None = None) -> None:
    """Run every job that is not cached yet, ``workers`` at a time.

    With ``workers=1`` and no ``pool`` the jobs run in this process; ``pool`` reuses an
    executor from ``make_pool`` (the benchmark does, to time runs without start-up).
    ``scheduler``, the address of a running Dask scheduler, runs them on its cluster
    instead (``workers`` is then the cluster's business). Without a ``pool``, jobs that
    train on more than one torch thread run one at a time in this process first: beside
    other workers they would ask for more threads than there are cores, and torch's
    threads wait for each other by spinning, which slowed such runs here up to fortyfold.
    """
    kind = experiment_of(experiment).kind
    todo = [j for j in jobs if key(kind, j.config) not in cache]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="sweep", unit="run",
               disable=not progress)
    try:
        if scheduler is not None:
            if todo:
                _run_on_cluster(experiment, todo, cache, scheduler, bar)
            return
        if pool is None:  # wide jobs (or every job, with one worker) in this process
            here = {id(j) for j in todo if workers <= 1 or _threads(j.config) > 1}
            for job in [j for j in todo if id(j) in here]:
                _run_job(experiment, job.config, str(cache.root))
                bar.update()
            todo = [j for j in todo if id(j) not in here]
            if not todo:
                return
        with contextlib.ExitStack() as stack:
            if pool is None:
                pool = stack.enter_context(make_pool(workers, experiment))
            futures = [pool.submit(_run_job, experiment, j.config, str(cache.root))
                       for j in todo]
            try:
                for fut in cf.as_completed(futures):
                    fut.result()
                    bar.update()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        bar.close()


def _threads(config) -> int:
    """The torch threads a run of ``config`` trains on."""
    return int(getattr(getattr(config, "train", None), "threads", 1))


def collect(experiment: str, jobs: list[Job], cache: Cache) -> pd.DataFrame:
    """The tidy frame of finished jobs (all must be cached)."""
    runner = experiment_of(experiment)
    frames = []
    for job in jobs:
        frame = runner.run(job.config, cache=cache).metrics.copy()
        for name, value in reversed(job.columns):
            if name not in frame:  # a grid field the experiment does not report itself
                frame.insert(0, name, value if not isinstance(value, list) else str(value))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def sweep(name: str, *, workers: int = 2, cache: Cache | None = None,
          out: str | Path | None = None, progress: bool = True,
          scheduler: str | None = None) -> pd.DataFrame:
    """Run a named sweep (resuming from the cache) and return its tidy frame.

    Args:
        name: a shipped sweep name (``available()``) or a path to a sweep file.
        workers: parallel worker processes, 1-64.
        cache: where results live; default ``Cache()`` (``$TOYLAB_CACHE``).
        out: if given, the CSV is written there.
        progress: show a progress bar over runs.
        scheduler: the address of a running Dask scheduler (``host:port``): the runs go
            to its cluster and their results come back into ``cache`` here. Needs
            ``pip install "toylab[cluster]"``.
    """
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ValueError(f"workers must be an integer in [1, 64], got {workers!r}")
    spec = load_spec(name)
    jobs = spec.jobs()
    store = cache or Cache()
    run_jobs(spec.experiment, jobs, store, workers, progress, scheduler=scheduler)
    frame = collect(spec.experiment, jobs, store)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
        stem = str(out)[:-4] if str(out).endswith(".csv") else str(out)
        Path(stem + PLATFORM_SUFFIX).write_text(json.dumps(platform_record(), indent=2)
                                                + "\n")
    return frame
