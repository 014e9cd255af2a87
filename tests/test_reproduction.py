"""What a reader on another processor can rely on.

Training is chaotic enough that floating-point differences between processors move single
seeds (measured here: up to 0.78 exact match for one run between this machine's AVX512
kernels and torch's default ones), so the shipped sweeps reproduce run for run only on the
platform that made them (recorded beside each, ``NAME.platform.json``; the findings tests
check that). This module runs the code on another CPU's kernels, here and now: torch's
portable ``default`` kernels (``ATEN_CPU_CAPABILITY=default``), in a separate process. It
recomputes chapter 0's whole sweep, one grid point of chapter 1's most seed-sensitive
sweep, and one grid point each of chapters 2 to 6, and checks what the chapters rely on:
means over seeds within ``toylab.sweep.MEAN_TOLERANCE`` of the shipped ones, and every
finding of the chapter still holding when the recomputed runs take the shipped ones'
place.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import test_findings_core
import test_findings_decomposition
import test_findings_embers
import test_findings_instructions
import test_findings_interpolation
import test_findings_negatives
import test_findings_order
from toylab.experiments import (
    decomposition,
    embers,
    instructions,
    interpolation,
    negatives,
    order,
    toy_lab,
)
from toylab.sweep import (
    PLATFORM_SUFFIX,
    available,
    compare,
    load_spec,
    platform_record,
    shipped,
    shipped_platform,
)

#: Per chapter: a shipped sweep, one of its grid points (a value for every field of the
#: sweep's grid; its seeds are the sweep's), the chapter's ``findings``, its findings
#: tests, and the table of ``findings()`` the sweep fills.
POINTS = {
    # 12 of 16 compositions, with a trace, no singles: chapter 1's most seed-sensitive
    # sweep
    1: ("interpolation_coverage",
        {"split.coverage": 0.75, "task.trace": True, "split.singles": False},
        interpolation.findings, test_findings_interpolation, "coverage"),
    # 200 training tasks, full definitions: the point chapter 2's answer rests on
    2: ("instructions_tasks", {"split.train_tasks": 200, "task.condition": "full"},
        instructions.findings, test_findings_instructions, "tasks"),
    # granular data at 18 of 30 pairs, where umbrella and granular data first reach 0.5
    3: ("decomposition_coverage", {"split.coverage": 0.6, "split.condition": "granular"},
        decomposition.findings, test_findings_decomposition, "coverage"),
    # SFT then DPO with the likelihood term, the student chapter 4 compares with its
    # control
    4: ("negatives_students", {"student": "dpo_sft"}, negatives.findings,
        test_findings_negatives, "students"),
    # the live panels' default setting, which a learner retrains on their own CPU
    5: ("embers_live", {"rare_share": 0.1, "split.cipher_draw": "chain"}, embers.findings,
        test_findings_embers, "live"),
    # rot3>reverse>gen at replay 0.2 with the open family: inside the range of replay
    # shares where the entropy control separates the open family from its control
    6: ("order_replay", {"order": "rot3>reverse>gen", "replay": 0.2, "task.gen": "open"},
        order.findings, test_findings_order, "replay"),
}


def _sweep_elsewhere(spec: str, out, cache) -> pd.DataFrame:
    """Run a sweep in a process on torch's default (portable) CPU kernels."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    done = subprocess.run([sys.executable, "-m", "toylab", "sweep", spec, "--workers", "2",
                           "--cache", str(cache), "--out", str(out)],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(open(str(out)[:-4] + PLATFORM_SUFFIX).read())
    assert record["cpu_capability"] == "DEFAULT"  # it really ran on other kernels
    return pd.read_csv(out)


def _point_spec(sweep: str, point: dict, folder) -> str:
    """A sweep file for one grid point of a shipped sweep (its experiment, preset, base
    and seeds), written into ``folder``."""
    spec = load_spec(sweep)
    assert set(point) == set(spec.grid), (sweep, sorted(spec.grid))
    path = folder / f"{sweep}_point.json"
    path.write_text(json.dumps({
        "experiment": spec.experiment, "preset": spec.preset, "base": spec.base,
        "grid": {field: [point[field]] for field in spec.grid},
        "seeds": list(spec.seeds)}))
    return str(path)


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """Chapter 0's whole sweep and each chapter's grid point, on other kernels."""
    folder = tmp_path_factory.mktemp("elsewhere")
    out = {0: _sweep_elsewhere("toylab", folder / "toylab.csv", folder / "c")}
    for chapter, (sweep, point, *_) in POINTS.items():
        out[chapter] = _sweep_elsewhere(_point_spec(sweep, point, folder),
                                        folder / f"{sweep}.csv", folder / "c")
    return out


def _facts_tests(module):
    return [fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("test_")
            and list(inspect.signature(fn).parameters) == ["facts"]]


def test_every_shipped_sweep_records_its_platform():
    for name in available():
        record = shipped_platform(name)
        assert record is not None and set(record) == set(platform_record()), name


def test_chapter_0_on_other_kernels(elsewhere):
    report = compare(shipped("toylab"), elsewhere[0])
    assert report.within_tolerance, report
    facts = toy_lab.findings(elsewhere[0], shipped("demo"))
    for check in _facts_tests(test_findings_core):
        check(facts)


@pytest.mark.parametrize("chapter", sorted(POINTS))
def test_a_grid_point_on_other_kernels(elsewhere, chapter):
    """The shipped runs of the chapter's grid point against the same runs on other
    kernels: means within tolerance, and every ``facts`` test of the chapter still passing
    with the recomputed runs in the shipped ones' place."""
    sweep, point, findings, tests, table = POINTS[chapter]
    frame, names = shipped(sweep), load_spec(sweep).columns()
    here = pd.Series(True, index=frame.index)
    for path, value in point.items():
        here &= frame[names[path]] == value
    recomputed = elsewhere[chapter]
    report = compare(frame[here], recomputed)
    assert report.within_tolerance, report
    facts = findings({table: pd.concat([frame[~here], recomputed], ignore_index=True)})
    for check in _facts_tests(tests):
        check(facts)
