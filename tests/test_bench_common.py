"""The bench's one percentile function (bench/common.py): every p50/p95/p99 in bench/report.md comes from it."""

import ast
import importlib
import math
from pathlib import Path

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


# The bench imports the project lazily (after pointing the settings at its own database), so a module moved to a
# feature package would only break the next `make bench`, days later. Resolving those imports here breaks now.
PROJECT_PACKAGES = ("apps", "tenants", "base", "madoguchi")


def _bench_project_imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((Path(__file__).resolve().parents[1] / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PROJECT_PACKAGES:
                found += [
                    (path.name, node.module or "", alias.name) for alias in node.names if alias.name != "*"
                ]
    return found


def test_the_bench_imports_of_the_project_resolve() -> None:
    imports = _bench_project_imports()
    assert len(imports) > 10  # the scan finds them (the bench creates cities, books, imports cards)
    missing = []
    for filename, module, name in imports:
        try:
            imported = importlib.import_module(module)
        except ImportError as error:
            missing.append(f"{filename}: from {module} import {name} ({error})")
            continue
        if not hasattr(imported, name):
            try:  # a submodule (`from apps.issuance.imports import tasks`)
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{filename}: from {module} import {name}")
    assert not missing, "bench/ imports what is no longer there:\n" + "\n".join(missing)
