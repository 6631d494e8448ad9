"""utils.data: FashionMNIST through torchvision's parser, the offline fallback, splits and loaders."""

from __future__ import annotations

import warnings

import pytest
import torch

from utils import data as D
from utils.data import DatasetFallbackWarning, DatasetFileError, TensorLoader, load_dataset, make_loaders, subset


def test_fashion_mnist_read_by_torchvision_from_idx_files(fashion_root, capsys):
    splits = load_dataset("fashion_mnist", root=fashion_root, download=False)
    assert splits.name == "fashion_mnist" and not splits.is_fallback
    assert len(splits.train) + len(splits.val) == 600 and len(splits.test) == 100
    x, y = splits.train.tensors
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and y.dtype == torch.long
    assert splits.num_classes == 10 and splits.classes[0] == "T-shirt/top"
    # the same pixels as the file on disk, parsed independently
    raw = (fashion_root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").read_bytes()
    first = torch.tensor(list(raw[16:16 + 784]), dtype=torch.float32).reshape(1, 28, 28) / 255
    assert torch.equal(splits.test.tensors[0][0], first)


def test_auto_uses_fashion_mnist_when_on_disk(fashion_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetFallbackWarning)
        assert load_dataset("auto", root=fashion_root, download=False, verbose=False).name == "fashion_mnist"


def test_data_dir_from_environment(fashion_root, monkeypatch):
    monkeypatch.setenv("OPTIM_DATA_DIR", str(fashion_root))
    assert D.data_dir() == fashion_root
    assert D.fashion_mnist_on_disk()


def test_fallback_to_digits_is_loud(tmp_path, capsys):
    with pytest.warns(DatasetFallbackWarning, match="digits"):
        splits = load_dataset("auto", root=tmp_path, download=False)
    out = capsys.readouterr().out
    assert splits.name == "digits" and splits.is_fallback
    assert "FashionMNIST is not available" in out and "python -m utils.data" in out
    assert "refer to FashionMNIST" in out
    assert splits.input_shape == (1, 8, 8) and splits.num_classes == 10


def test_failed_download_falls_back_and_is_not_retried(tmp_path, monkeypatch, capsys):
    calls = []

    def offline(root):
        calls.append(root)
        raise OSError("Name or service not known")

    monkeypatch.setattr(D, "download_fashion_mnist", offline)
    monkeypatch.setattr(D, "_failed_downloads", set())
    for _ in range(2):
        with pytest.warns(DatasetFallbackWarning):
            splits = load_dataset("auto", root=tmp_path, download=True)
        assert splits.name == "digits"
    assert len(calls) == 1
    assert "Name or service not known" in capsys.readouterr().out


def test_offline_environment_variable_disables_download(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIM_OFFLINE", "1")
    monkeypatch.setattr(D, "download_fashion_mnist", lambda root: pytest.fail("must not download"))
    with pytest.warns(DatasetFallbackWarning, match="downloading is off"):
        load_dataset("auto", root=tmp_path, verbose=False)


def test_truncated_file_is_named(fashion_root):
    path = fashion_root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    for name in ("fashion_mnist", "auto"):  # a broken download is never hidden behind the fallback
        with pytest.raises(DatasetFileError, match="train-images-idx3-ubyte.*truncated"):
            load_dataset(name, root=fashion_root, download=False, verbose=False)


def test_bad_header_is_named(fashion_root):
    path = fashion_root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DatasetFileError, match="t10k-labels-idx1-ubyte.*bad header"):
        load_dataset("fashion_mnist", root=fashion_root, download=False, verbose=False)


def test_missing_file_is_named(fashion_root):
    (fashion_root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetFileError, match="t10k-labels-idx1-ubyte.*missing"):
        load_dataset("fashion_mnist", root=fashion_root, download=False, verbose=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*fashion_mnist.*digits"):
        load_dataset("mnist")


def test_command_line_reports_files(fashion_root, capsys):
    assert D.main(["--root", str(fashion_root), "--check"]) == 0
    out = capsys.readouterr().out
    assert "train-images-idx3-ubyte" in out and "ok (600 items)" in out and "Ready" in out


def test_validation_split_is_disjoint_and_deterministic(digits):
    a = load_dataset("digits", seed=3, verbose=False)
    b = load_dataset("digits", seed=3, verbose=False)
    c = load_dataset("digits", seed=4, verbose=False)
    assert torch.equal(a.val.tensors[0], b.val.tensors[0])
    assert not torch.equal(a.val.tensors[0], c.val.tensors[0])
    rows = lambda ds: {tuple(r.tolist()) for r in ds.tensors[0].flatten(1)}  # noqa: E731
    assert not rows(a.train) & rows(a.val)
    assert not rows(a.val) & rows(a.test)
    # the test set does not depend on the split seed
    assert torch.equal(a.test.tensors[0], c.test.tensors[0])
    assert len(a.train) + len(a.val) + len(a.test) == 1797


def test_tensor_loader_yields_every_sample_once_shuffled_reproducibly():
    x = torch.arange(103).float().unsqueeze(1)
    ds = torch.utils.data.TensorDataset(x, torch.arange(103))
    loader = TensorLoader(ds, batch_size=10, shuffle=True, seed=7)
    assert len(loader) == 11
    epoch1 = torch.cat([yb for _, yb in loader])
    epoch2 = torch.cat([yb for _, yb in loader])
    assert sorted(epoch1.tolist()) == list(range(103)) and sorted(epoch2.tolist()) == list(range(103))
    assert epoch1.tolist() != list(range(103)) and epoch1.tolist() != epoch2.tolist()
    again = TensorLoader(ds, batch_size=10, shuffle=True, seed=7)
    assert torch.cat([yb for _, yb in again]).tolist() == epoch1.tolist()
    for xb, yb in TensorLoader(ds, batch_size=10, shuffle=True, seed=7):
        assert torch.equal(xb.squeeze(1).long(), yb)  # images and labels stay paired


def test_unshuffled_loader_keeps_order_and_last_batch():
    ds = torch.utils.data.TensorDataset(torch.arange(25).float(), torch.arange(25))
    batches = [yb.tolist() for _, yb in TensorLoader(ds, batch_size=10)]
    assert batches == [list(range(10)), list(range(10, 20)), list(range(20, 25))]


@pytest.mark.parametrize("bad", [0, -1, 2.5, None, True])
def test_bad_batch_size(digits, bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_loaders(digits, batch_size=bad)


def test_batch_larger_than_dataset_is_one_batch(digits):
    loader = make_loaders(digits, batch_size=100_000).train
    assert len(loader) == 1 and len(next(iter(loader))[1]) == len(digits.train)


def test_dataloader_path_gives_the_same_samples(digits):
    loaders = make_loaders(digits, batch_size=64, kind="dataloader")
    assert sum(len(y) for _, y in loaders.train) == len(digits.train)
    with pytest.raises(ValueError, match="unknown loader kind"):
        make_loaders(digits, kind="fast")


def test_subsets(digits):
    first = subset(digits.train, 50)
    assert torch.equal(first.tensors[1], digits.train.tensors[1][:50])
    balanced = subset(digits.train, per_class=5)
    assert torch.bincount(balanced.tensors[1]).tolist() == [5] * 10
    with pytest.raises(ValueError, match="exactly one"):
        subset(digits.train)
    with pytest.raises(ValueError, match="per_class"):
        subset(digits.train, per_class=10_000)
