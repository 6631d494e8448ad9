"""Choosing the device to train on and moving batches there.

Explained in notebooks/00_start_here.ipynb and notebooks/01_optimization_loops.ipynb.
"""

from __future__ import annotations

import contextlib
import os

import torch

DEVICE_ENV_VAR = "OPTIM_DEVICE"
VALID_DEVICES = ("auto", "cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(preference: str | torch.device | None = None) -> torch.device:
    """Return the device to train on: the accelerator ``torch.accelerator`` reports (torch 2.6 and later), else
    CUDA, then Apple's MPS, then the CPU.

    ``preference`` (or, when it is None, the environment variable ``OPTIM_DEVICE``) can force one of
    ``"auto"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"cpu"``. Asking for a device this machine does
    not have is an error rather than a silent fallback, so a workshop notice such as "you are on the CPU"
    is never a surprise.
    """
    if preference is None:
        preference = os.environ.get(DEVICE_ENV_VAR) or "auto"
    if isinstance(preference, torch.device):
        preference = str(preference)
    if not isinstance(preference, str):
        raise TypeError(f"device must be a string or torch.device, got {type(preference).__name__}")
    choice = preference.strip().lower()
    kind = choice.split(":", 1)[0]
    if kind not in VALID_DEVICES:
        raise ValueError(
            f"unknown device {preference!r}; valid devices are {', '.join(VALID_DEVICES)} "
            "(a CUDA index such as 'cuda:1' is allowed)"
        )
    if kind == "auto":
        accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6: CUDA, ROCm, MPS, XPU, ... whichever is here
        if accelerator is not None and accelerator.is_available():
            return torch.device(accelerator.current_accelerator().type)
        if torch.cuda.is_available():  # an older torch (or a torch.accelerator that sees none)
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {preference!r} was asked for, but CUDA is not available on this machine; use 'cpu' or 'auto'")
    if kind == "mps" and not _mps_available():
        raise ValueError(f"device {preference!r} was asked for, but MPS is not available on this machine; use 'cpu' or 'auto'")
    return torch.device(choice)


def describe_device(device: torch.device | str) -> str:
    """A one-line human description, e.g. ``"cuda (NVIDIA H100, 80 GB)"`` or ``"cpu (2 threads)"``."""
    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{device} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "mps (Apple GPU)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)  # another accelerator torch.accelerator found (e.g. xpu, Intel GPUs)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a tensor to ``device``; copies to CUDA are asynchronous (``non_blocking=True``)."""
    if tensor.device == device:
        return tensor
    return tensor.to(device, non_blocking=(device.type == "cuda"))


def bf16_supported(device: torch.device | str) -> bool:
    """Whether ``device`` computes in bfloat16 natively, so that ``fit(..., amp=True)`` pays off.

    CUDA: compute capability 8.0 or higher, i.e. NVIDIA GPUs from Ampere on (A100, RTX 30xx, L4, H100), asked
    of the given device (``"cuda:1"`` is asked about GPU 1). A T4 (7.5) or V100 (7.0) says False: they can
    hold bfloat16 tensors, which is why ``torch.cuda.is_bf16_supported()`` (default
    ``including_emulation=True``) says True there, but they emulate the arithmetic, slower than float32.
    AMD GPUs under ROCm: True, as torch reports. CPU: True only with AVX512-BF16 or AMX instructions (recent
    Intel Xeon, AMD Zen 4 and later); elsewhere bfloat16 is emulated and slower than float32. MPS: False.
    Explained in notebooks/06_putting_it_all_together.ipynb ("Going further: on a GPU").
    """
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        if torch.version.hip:  # ROCm: torch.cuda.is_bf16_supported(including_emulation=False) is True there too
            return True
        major, _minor = torch.cuda.get_device_capability(device)
        return major >= 8
    if device.type == "cpu":
        checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
        return any(check is not None and check() for check in checks)
    return False


def autocast_bf16(device: torch.device, enabled: bool):
    """``torch.autocast`` to bfloat16 on a CUDA or CPU ``device`` when ``enabled``; otherwise a context that does
    nothing. ``fit`` enables it only where ``bf16_supported(device)``."""
    if not enabled or device.type not in ("cuda", "cpu"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
