"""utils.device and utils.seeding."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from utils.device import autocast_bf16, bf16_supported, describe_device, pick_device, to_device
from utils.seeding import seed_everything


def test_explicit_cpu():
    assert pick_device("cpu") == torch.device("cpu")
    assert "cpu" in describe_device("cpu")


def test_environment_variable(monkeypatch):
    monkeypatch.setenv("OPTIM_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("OPTIM_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("utils.device._mps_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr("utils.device._mps_available", lambda: True)
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


def test_auto_takes_the_accelerator_torch_reports(monkeypatch):
    """torch.accelerator (torch 2.6 and later) decides: here a stand-in Intel GPU, with no CUDA and no MPS."""
    monkeypatch.delenv("OPTIM_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("utils.device._mps_available", lambda: False)
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args, **kwargs: torch.device("xpu"))
    assert pick_device() == torch.device("xpu")
    assert describe_device("xpu") == "xpu"


def test_auto_without_torch_accelerator_falls_back(monkeypatch):
    """A torch without torch.accelerator (older than 2.6): CUDA, then MPS, then the CPU, asked one by one."""
    monkeypatch.delenv("OPTIM_DEVICE", raising=False)
    monkeypatch.delattr(torch, "accelerator")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("utils.device._mps_available", lambda: True)
    assert pick_device() == torch.device("mps")


def test_bf16_supported_follows_the_cpu_instructions(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not bf16_supported("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert bf16_supported("cpu")
    assert not bf16_supported("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not bf16_supported("cuda")


@pytest.mark.parametrize("gpu,capability,native", [("Tesla T4", (7, 5), False), ("Tesla V100", (7, 0), False),
                                                     ("A100", (8, 0), True), ("H100", (9, 0), True)])
def test_bf16_supported_means_native_on_cuda(monkeypatch, gpu, capability, native):
    """A T4 can hold bfloat16 tensors (torch.cuda.is_bf16_supported() says True with its default emulation)
    but does not compute in bfloat16 natively: only compute capability 8.0 and up counts."""
    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # what a T4 says
    assert bf16_supported("cuda") is native, gpu
    assert bf16_supported(torch.device("cuda:1")) is native, gpu
    assert asked[-1] == torch.device("cuda:1"), "the device asked about is the one given, not the current one"


def test_bf16_supported_on_this_machine_matches_its_docstring():
    """On this machine's CPU: True exactly when it has AVX512-BF16 or AMX (the docstring's rule)."""
    flags = [getattr(torch.cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    assert bf16_supported("cpu") == any(flags)
    if torch.cuda.is_available():
        assert bf16_supported("cuda") == (torch.cuda.get_device_capability()[0] >= 8)
        assert bf16_supported("cuda") == torch.cuda.is_bf16_supported(including_emulation=False)


def test_autocast_bf16_only_when_enabled_on_cpu_or_cuda():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast_bf16(torch.device("cpu"), True):
        assert (a @ b).dtype == torch.bfloat16
    with autocast_bf16(torch.device("cpu"), False):
        assert (a @ b).dtype == torch.float32
    with autocast_bf16(torch.device("mps"), True):  # not entered on MPS: a no-op context
        assert (a @ b).dtype == torch.float32


def test_unknown_device_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown device 'tpu'.*auto, cuda, mps, cpu"):
        pick_device("tpu")


def test_unavailable_device_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")


def test_to_device_is_a_no_op_on_the_same_device():
    t = torch.ones(3)
    assert to_device(t, torch.device("cpu")) is t


def test_seed_everything_makes_all_generators_repeat():
    seed_everything(5)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batches_move_asynchronously():
    t = to_device(torch.ones(2, pin_memory=True), torch.device("cuda"))
    assert t.is_cuda
