"""The benchmark's parts run and report sane numbers (speed itself is not asserted)."""

from toylab.bench import CHOSEN, design_choices, matmul_gflops, pool_rounds, throughput


def test_parts_report_positive_numbers():
    assert matmul_gflops(n=128, repeats=1) > 0
    tp = throughput(batch=8, steps=3, repeats=1)
    assert tp["toylab_tokens_per_s"] > 0 and tp["reference_tokens_per_s"] > 0
    assert tp["flops_per_token"] > 6 * 50_000



def test_rounds_pool_into_medians_over_every_run():
    rounds = [{"seconds": 0.3, "seconds_each": [0.2, 0.3, 0.4], "steps": 70,
               "ms_per_step": 4.0, "all_reached": True, "min_test_exact_match": 1.0,
               "threads": 1, "matmul_gflops_before": 110.0},
              {"seconds": 0.6, "seconds_each": [0.5, 0.6, 0.9], "steps": 80,
               "ms_per_step": 8.0, "all_reached": False, "min_test_exact_match": 0.98,
               "threads": 1, "matmul_gflops_before": 100.0}]
    pooled = pool_rounds(rounds)
    assert pooled["seconds"] == 0.45 and pooled["round_medians"] == [0.3, 0.6]
    assert pooled["round_matmul_gflops"] == [110.0, 100.0]
    assert pooled["seconds_each"] == [0.2, 0.3, 0.4, 0.5, 0.6, 0.9]
    assert pooled["steps"] == 75 and not pooled["all_reached"]
    assert pooled["min_test_exact_match"] == 0.98


def test_design_choices_measure_every_alternative():
    report = design_choices(repeats=1)
    one = report["1_thread"]
    assert set(one) == set(CHOSEN)
    assert set(one["early_stop_chunk"]["ms"]) == {"chunk_16", "chunk_32", "chunk_64"}
    for name, group in one.items():
        assert all(v > 0 for v in group["ms"].values())
        assert group["ratio_to_chosen"][CHOSEN[name]] == 1.0
    assert all(v > 0 for v in report["first_optimizer"]["ms"].values())


def test_a_live_panel_is_timed_from_an_empty_cache(monkeypatch, tmp_path):
    from toylab.bench import time_panel

    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path))
    report = time_panel("toylab.experiments.toy_lab", "coverage", repeats=1)
    assert report["seconds"] > report["train_seconds"] > 0 and report["steps"] > 0
    assert report["default"] == {"split.coverage": 0.5, "seed": 2}
    assert list(tmp_path.iterdir()) == []  # the timed runs left the user's cache alone
