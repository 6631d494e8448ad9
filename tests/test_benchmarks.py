"""The benchmark scripts run end to end (on small data here; their figures come from full-size runs)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_training_loop  # noqa: E402
import pytest  # noqa: E402

from utils import bf16_supported  # noqa: E402


@pytest.mark.slow  # trains three loops on a FashionMNIST-size folder
def test_training_loop_benchmark_reports_every_loop(fashion_root, capsys, monkeypatch):
    monkeypatch.delenv("OPTIM_DATA_DIR", raising=False)
    assert bench_training_loop.main(["--repeats", "2", "--device", "cpu", "--root", str(fashion_root)]) == 0
    out = capsys.readouterr().out
    assert f"FashionMNIST from {fashion_root}" in out
    assert len(re.findall(r"round \d: tutorial [\d.]+s, fit [\d.]+s", out)) == 2
    expected = ["(a) tutorial loop", "(b) utils.fit", "(d) minimal tensor loop"]
    if bf16_supported("cpu"):
        expected.insert(2, "(c) utils.fit, amp=True (bf16)")
    rows = [line for line in out.splitlines() if line.startswith("(")]
    assert [row[:32].strip() for row in rows] == expected
    for row in rows[1:]:
        ratios = [float(r) for r in re.findall(r"([\d.]+)x", row)]
        assert len(ratios) == 2 and all(r > 0 for r in ratios)
    paired = re.findall(r"^fit / floor: ([\d.]+)x the time, median of 2 per-round ratios", out, re.M)
    assert len(paired) == 1 and float(paired[0]) > 0


def test_training_loop_benchmark_compares_the_same_network_from_the_same_start():
    """(a), (b) and (d) train the tutorial's architecture from identical initial weights."""
    import torch

    tutorial_model = bench_training_loop.tutorial_setup(torch.device("cpu"))[0]
    torch.manual_seed(0)  # as run_fit does
    fit_model = bench_training_loop.utils.MLP((1, 28, 28), 10)
    a, b = list(tutorial_model.parameters()), list(fit_model.parameters())
    assert [p.shape for p in a] == [p.shape for p in b]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
