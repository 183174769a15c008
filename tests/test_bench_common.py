"""The bench's one percentile function (bench/common.py): every p50/p95/p99 in bench/report.md comes from it."""

import math

import pytest

from bench.common import percentile


def test_nearest_rank_returns_a_measured_value() -> None:
    values = [float(n) for n in range(1, 101)]  # 1 … 100, given shuffled below
    shuffled = values[50:] + values[:50]
    assert percentile(shuffled, 0.5) == 50.0
    assert percentile(shuffled, 0.95) == 95.0
    assert percentile(shuffled, 0.99) == 99.0
    assert percentile(shuffled, 1.0) == 100.0


def test_small_samples() -> None:
    # With 10 samples p95 is the slowest one (the creation table says so); p50 is the 5th, not an average.
    ten = [0.3, 0.1, 0.9, 0.2, 0.5, 0.4, 0.8, 0.6, 0.7, 1.0]
    assert percentile(ten, 0.95) == 1.0
    assert percentile(ten, 0.5) == 0.5
    assert percentile([7.0], 0.5) == 7.0
    assert percentile([7.0], 0.0) == 7.0  # the lowest rank is the first, never index -1


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_no_values_is_nan_not_an_error(q: float) -> None:
    assert math.isnan(percentile([], q))
