"""utils.claim (a visible, logged check of an experimental claim), the seed shift and the robustness run."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from utils import ClaimFailed, claim
from utils.claims import margin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import robustness  # noqa: E402


def test_a_true_claim_prints_a_tick_line_and_returns_nothing(capsys):
    assert claim("the loss fell below chance", 0.5, "<", math.log(10)) is None  # no stray Out[] on a cell's last line
    out = capsys.readouterr().out
    assert out.startswith("✓ the loss fell below chance")
    assert "measured 0.5" in out and "needed < 2.303" in out


@pytest.mark.parametrize("measured, op, bound", [(3.1, "<", 2.3), (2.3, "<", 2.3), (1.0, ">", 1.0), (0.9, ">=", 1.0),
                                                 (1.1, "<=", 1.0), (float("nan"), "<", 1.0), (float("nan"), ">", 1.0)])
def test_a_false_claim_raises_naming_the_claim_the_measured_value_and_the_bound(measured, op, bound):
    with pytest.raises(ClaimFailed) as err:
        claim("Kaiming's net trains", measured, op, bound)
    text = str(err.value)
    assert "Kaiming's net trains" in text and f"{op} {bound:.4g}" in text and f"{measured:.4g}" in text
    assert isinstance(err.value, AssertionError)  # pytest and nbmake report it as a failed check


def test_numpy_and_torch_scalars_are_measured_values(capsys):
    claim("a tensor", torch.tensor(0.25), "<", np.float64(0.5))
    claim("an int", np.int64(3), ">=", 3)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("kwargs, error", [
    ({"measured": "0.3"}, TypeError), ({"measured": torch.ones(2)}, TypeError), ({"measured": True}, TypeError),
    ({"op": "=="}, ValueError), ({"op": "lt"}, ValueError), ({"bound": float("nan")}, ValueError),
    ({"text": ""}, TypeError),
])
def test_bad_arguments_are_refused_by_name(kwargs, error):
    args = {"text": "x", "measured": 0.1, "op": "<", "bound": 1.0} | kwargs
    with pytest.raises(error, match="claim"):
        claim(args["text"], args["measured"], args["op"], args["bound"])


def test_margin_is_relative_to_the_bound_and_negative_on_the_wrong_side():
    assert margin(1.0, "<", 2.0) == pytest.approx(0.5)
    assert margin(3.0, "<", 2.0) == pytest.approx(-0.5)
    assert margin(3.0, ">", 2.0) == pytest.approx(0.5)
    assert margin(0.1, ">", 0.0) == pytest.approx(0.1)  # a zero bound: absolute distance
    assert margin(float("nan"), ">", 0.0) == -math.inf


def test_every_claim_appends_a_json_line_when_the_log_is_set(tmp_path, monkeypatch, capsys):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("OPTIM_CLAIMS_LOG", str(log))
    monkeypatch.setenv("OPTIM_NOTEBOOK", "03b_initialization")
    monkeypatch.setenv("OPTIM_SEED_SHIFT", "4")
    claim("passes", 1.0, "<", 2.0)
    with pytest.raises(ClaimFailed):
        claim("fails", 3.0, "<", 2.0)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["claim"], r["passed"], r["notebook"], r["seed_shift"]) for r in lines] == [
        ("passes", True, "03b_initialization", 4), ("fails", False, "03b_initialization", 4)]
    assert lines[1]["measured"] == 3.0 and lines[1]["bound"] == 2.0 and lines[1]["margin"] == pytest.approx(-0.5)


SHIFTED = """
import random, numpy as np, torch, utils
torch.manual_seed(0); a = torch.rand(3).tolist()
b = torch.rand(3, generator=torch.Generator().manual_seed(0)).tolist()
np.random.seed(0); c = np.random.rand(3).tolist()
d = np.random.default_rng(0).random(3).tolist()
random.seed(0); e = random.random()
f = random.Random(0).random()
utils.seed_everything(0); g = [torch.rand(1).item(), np.random.rand(), random.random()]
print(repr([a, b, c, d, e, f, g]))
"""


def _expected(seed):
    torch.manual_seed(seed)
    a = torch.rand(3).tolist()
    b = torch.rand(3, generator=torch.Generator().manual_seed(seed)).tolist()
    np.random.seed(seed)
    c = np.random.rand(3).tolist()
    d = np.random.default_rng(seed).random(3).tolist()
    random.seed(seed)
    e = random.random()
    f = random.Random(seed).random()
    torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
    g = [torch.rand(1).item(), np.random.rand(), random.random()]
    return [a, b, c, d, e, f, g]


@pytest.mark.slow  # executes notebooks in Jupyter kernels
def test_the_seed_shift_moves_every_seed_by_k_once_and_only_when_asked():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks" / "seedshift"), str(ROOT)])
    env["OPTIM_SEED_SHIFT"] = "3"
    out = subprocess.run([sys.executable, "-c", SHIFTED], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert eval(out) == _expected(3)  # seed 0 in the script behaves as seed 3: every source of randomness
    assert eval(out) != _expected(0)
    try:
        assert _expected(0) == _expected(0)  # this process (no shift) is untouched
    finally:
        torch.manual_seed(0)


def test_shift_lists_parse_and_the_full_matrix_has_ten_three_and_three_runs():
    assert robustness.parse_shifts("1-10", "x") == list(range(1, 11))
    assert robustness.parse_shifts("0,3", "x") == [0, 3]
    assert robustness.parse_shifts("none", "x") == []
    with pytest.raises(SystemExit, match="--digits-shifts"):
        robustness.parse_shifts("one", "--digits-shifts")
    runs = robustness.build_matrix(range(1, 11), range(3), ["avx2", "default", "threads2"])
    assert [r["data"] for r in runs].count("digits") == 13 and [r["data"] for r in runs].count("standin") == 3
    assert runs[-3]["env"]["ATEN_CPU_CAPABILITY"] == "avx2" and runs[-1]["env"] == {"OPTIM_THREADS": "2"}


@pytest.mark.slow  # executes notebooks in Jupyter kernels
def test_the_robustness_run_reports_a_claim_that_fails_for_one_seed(tmp_path):
    """End to end on a two-claim notebook: one claim holds for every shift, one fails at shift 3 only."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport torch, utils\n"
        "torch.manual_seed(0); x = torch.rand(1).item()\n"
        "utils.claim('a uniform draw is below 1', x, '<', 1.0)\n"
        "utils.claim('a uniform draw is above 0.05', x, '>', 0.05)  # false at shift 3 (0.0043)")]
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "table.md"
    code = robustness.main(["--notebooks", str(path), "--digits-shifts", "2-3", "--standin-shifts", "none",
                            "--variants", "none", "--jobs", "2", "--out", str(out)])
    assert code == 1
    table = out.read_text()
    assert "| t | a uniform draw is below 1 | 2/2 |" in table
    assert "| t | a uniform draw is above 0.05 | 1/2 |" in table and "digits+3" in table


@pytest.mark.slow  # executes notebooks in Jupyter kernels
def test_a_rerun_into_the_same_log_dir_replaces_only_its_notebook_and_report_gathers_all(tmp_path):
    def notebook(name, bound):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport utils\nutils.claim('one is small', 1, '<', {bound})")]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        return str(tmp_path / f"{name}.ipynb")

    logs, out = tmp_path / "logs", tmp_path / "table.md"
    common = ["--digits-shifts", "1", "--standin-shifts", "none", "--variants", "none", "--jobs", "2",
              "--log-dir", str(logs), "--out", str(out)]
    assert robustness.main(["--notebooks", notebook("a", 2), notebook("b", 0), *common]) == 1  # b's claim is false
    assert robustness.main(["--notebooks", notebook("b", 2), *common]) == 0  # b fixed and rerun alone
    assert "| b | one is small | 1/1 |" in out.read_text() and "| a | one is small | 1/1 |" in out.read_text()
    assert robustness.main(["--report", "--log-dir", str(logs), "--out", str(out)]) == 0
    assert "several invocations" in out.read_text()


@pytest.mark.slow  # executes notebooks in Jupyter kernels
def test_a_notebook_that_stops_is_reported_with_its_error_line_and_the_end_of_its_traceback(tmp_path, capsys):
    """CI once stopped on notebook 07 and printed only '=====' (the last line of torchrun's box): useless."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "raise RuntimeError('torchrun exited with code 1:\\nworker 1 said: the real cause\\n' + '=' * 40)")]
    nbformat.write(nb, tmp_path / "stops.ipynb")
    code = robustness.main(["--notebooks", str(tmp_path / "stops.ipynb"), "--digits-shifts", "1", "--standin-shifts",
                            "none", "--variants", "none", "--jobs", "1", "--out", str(tmp_path / "t.md")])
    printed = capsys.readouterr().out
    assert code == 1
    assert "RuntimeError: torchrun exited with code 1" in printed  # the error's line, not the rule
    assert "worker 1 said: the real cause" in printed  # the traceback's end, printed under the failure


def test_the_error_line_is_the_last_line_naming_an_error_else_the_last_that_is_not_a_rule():
    assert robustness.error_line("Traceback\nValueError: bad lr\n=====\n") == "ValueError: bad lr"
    assert robustness.error_line("x\nutils.claims.ClaimFailed: loss fell\n-----") == "utils.claims.ClaimFailed: loss fell"
    assert robustness.error_line("some output\n=======\n") == "some output"
    assert robustness.error_line("") == ""


@pytest.mark.slow
def test_a_relative_log_dir_still_receives_the_claims(tmp_path, monkeypatch):
    # the kernel runs in the notebook's folder: a --log-dir relative to where the run started must still work
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('import utils\nutils.claim("one is less than two", 1, "<", 2)')])
    nbformat.write(nb, folder / "tiny.ipynb")
    (tmp_path / "data").mkdir()
    (tmp_path / "logs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # run_one rewrites the environment of its process
    run = {"name": "digits+0", "env": {}, "shift": 0, "data": "digits"}
    status = robustness.run_one(run, str(folder / "tiny.ipynb"), {"digits": str(tmp_path / "data")}, "logs")
    assert status["error"] == ""
    lines = (tmp_path / "logs" / "digits_0__tiny.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["passed"] is True


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="IPC sockets are a POSIX transport; elsewhere the kernel uses TCP")
def test_the_kernel_talks_over_ipc_sockets_not_tcp_ports(tmp_path, monkeypatch):
    # two kernels started at once over TCP can be handed the same free port, and one dies before kernel_info
    seen = tmp_path / "transport.txt"
    code = ("import json\nfrom ipykernel.connect import get_connection_info\n"
            f"open({str(seen)!r}, 'w').write(json.loads(get_connection_info())['transport'])")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), tmp_path / "which.ipynb")
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(os, "environ", dict(os.environ))  # run_one rewrites the environment of its process
    run = {"name": "digits+0", "env": {}, "shift": 0, "data": "digits"}
    status = robustness.run_one(run, str(tmp_path / "which.ipynb"), {"digits": str(tmp_path / "data")}, str(tmp_path))
    assert status["error"] == "" and seen.read_text() == "ipc"


def test_a_two_thread_run_takes_two_job_slots():
    # 2 threads beside another notebook on 2 cores made torch's threads wait for each other (113 s instead of 13)
    runs = robustness.build_matrix([1], [], ["avx2", "threads2"])
    assert [robustness.run_threads(r) for r in runs] == [1, 1, 2]
    assert robustness.run_threads({"env": {"OPTIM_THREADS": "auto"}}) == (os.cpu_count() or 1)
