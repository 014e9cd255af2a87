"""The benchmark's parts run and report sane numbers (speed itself is not asserted)."""

from toylab.bench import matmul_gflops, throughput


def test_parts_report_positive_numbers():
    assert matmul_gflops(n=128, repeats=1) > 0
    tp = throughput(batch=8, steps=3, repeats=1)
    assert tp["toylab_tokens_per_s"] > 0 and tp["reference_tokens_per_s"] > 0
    assert tp["flops_per_token"] > 6 * 50_000

