"""Rows of the reliability review of 2026-12-04 outside fit (B4, C5): each test failed before its fix."""

from __future__ import annotations

import struct

import pytest

from utils import data, threads


def test_b4_idx_files_that_claim_more_images_than_fashion_mnist_are_refused_before_reading(tmp_path):
    # sparse files: 25,000,000 images of 28 x 28 "on disk" (19.6 GB apparent, nothing allocated)
    raw = data.fashion_mnist_raw_dir(tmp_path)
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        with open(raw / f"{prefix}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, 25_000_000, 28, 28))
            f.truncate(16 + 25_000_000 * 784)
        with open(raw / f"{prefix}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">II", 0x801, 25_000_000))
            f.truncate(8 + 25_000_000)
    state, detail = data.fashion_mnist_state(tmp_path)
    assert state == "broken" and "25,000,000" in detail and "train-images" in detail


@pytest.mark.parametrize("value", ["99999999999999999999", "1025", "0"])
def test_c5_an_absurd_optim_threads_is_named(value):
    with pytest.raises(ValueError, match="OPTIM_THREADS"):
        threads.thread_count({"OPTIM_THREADS": value})
