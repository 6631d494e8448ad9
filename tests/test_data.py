"""utils.data: FashionMNIST through torchvision's parser, the offline fallback, splits and loaders."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import utils.plotting
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
    assert "FashionMNIST is not available" in out and "utils.data.download_fashion_mnist()" in out
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
    banner = " ".join(line.strip("! ") for line in capsys.readouterr().out.splitlines())  # its lines re-joined:
    assert "Name or service not known" in banner  # where the reason wraps depends on the length of tmp_path


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
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
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


def test_numpy_integers_are_fine_sizes(digits):
    assert len(subset(digits.train, np.int64(7))) == 7
    assert len(subset(digits.train, per_class=np.int64(2))) == 20
    assert TensorLoader(digits.train, np.int64(100)).batch_size == 100


# ----------------------------------------------------------------------------------------------- reliability review rows
def test_val_fraction_that_leaves_no_training_samples_is_refused():  # review 1.31
    with pytest.raises(ValueError, match="val_fraction=0.9999 .*leaves no training samples"):
        load_dataset("digits", val_fraction=0.9999, verbose=False)


def test_subset_of_an_empty_dataset_says_it_is_empty():  # review 1.36
    empty = torch.utils.data.TensorDataset(torch.empty(0, 1, 8, 8), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="dataset is empty"):
        subset(empty, per_class=1)


def raw_file(root, name):
    return root / "FashionMNIST" / "raw" / name


def load_fails_naming(root, file, match):
    """Both ways of loading FashionMNIST and ``--check`` agree: DatasetFileError naming ``file``; "Broken", rc 1."""
    for name in ("fashion_mnist", "auto"):
        with pytest.raises(DatasetFileError, match=f"{file}.*{match}"):
            load_dataset(name, root=root, download=False, verbose=False)
    assert D.fashion_mnist_state(root)[0] == "broken" and not D.fashion_mnist_on_disk(root)


@pytest.mark.parametrize("images, labels, file", [
    (200, 150, "train-labels-idx1-ubyte"),  # review 4.8: 200 images, 150 labels
    (200, 300, "train-labels-idx1-ubyte"),
])
def test_image_and_label_counts_must_match(tmp_path, images, labels, file, capsys):
    D.write_fake_fashion_mnist(tmp_path, images, 50)
    D.write_idx(raw_file(tmp_path, file), np.zeros(labels, np.uint8))
    load_fails_naming(tmp_path, file, "labels but")
    assert D.main(["--root", str(tmp_path), "--check"]) == 1  # review 4.23: no more "Ready"
    out = capsys.readouterr().out
    assert "Broken: the notebooks will stop with DatasetFileError" in out and file in out


def test_test_set_count_mismatch_is_named(tmp_path):
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    D.write_idx(raw_file(tmp_path, "t10k-labels-idx1-ubyte"), np.zeros(10, np.uint8))
    load_fails_naming(tmp_path, "t10k-labels-idx1-ubyte", "labels but")


def test_a_small_consistent_set_loads_with_a_warning_naming_the_file(tmp_path, capsys):  # review 4.9
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    with pytest.warns(D.DatasetSizeWarning, match="train-images-idx3-ubyte holds 200 images, FashionMNIST has 60,000"):
        splits = load_dataset("fashion_mnist", root=tmp_path, download=False, verbose=False)
    assert len(splits.train) + len(splits.val) == 200
    assert D.main(["--root", str(tmp_path), "--check"]) == 0
    assert "not the full FashionMNIST" in capsys.readouterr().out


def test_labels_outside_0_to_9_are_named(tmp_path):  # review 4.10
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    D.write_idx(raw_file(tmp_path, "train-labels-idx1-ubyte"), np.full(200, 200, np.uint8))
    load_fails_naming(tmp_path, "train-labels-idx1-ubyte", "label 200")


def test_images_of_another_size_are_named(tmp_path):  # review 4.11
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    D.write_idx(raw_file(tmp_path, "train-images-idx3-ubyte"), np.zeros((200, 10, 10), np.uint8))
    load_fails_naming(tmp_path, "train-images-idx3-ubyte", "10 x 10")


def test_two_dimensional_and_swapped_files_are_named(tmp_path):  # review 4.12
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    images = raw_file(tmp_path, "train-images-idx3-ubyte")
    D.write_idx(images, np.zeros((200, 784), np.uint8))
    load_fails_naming(tmp_path, "train-images-idx3-ubyte", "200 x 784")
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    labels = raw_file(tmp_path, "train-labels-idx1-ubyte")
    image_bytes, label_bytes = images.read_bytes(), labels.read_bytes()
    images.write_bytes(label_bytes)
    labels.write_bytes(image_bytes)
    load_fails_naming(tmp_path, "train-images-idx3-ubyte", "swapped")


def test_a_header_with_zero_dimensions_is_named(tmp_path, capsys):  # review 4.13
    D.write_fake_fashion_mnist(tmp_path, 200, 50)
    raw_file(tmp_path, "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 0, 7]))
    load_fails_naming(tmp_path, "t10k-labels-idx1-ubyte", "0 dimensions")
    assert D.main(["--root", str(tmp_path), "--check"]) == 1  # a report, not a traceback
    assert "0 dimensions" in capsys.readouterr().out


def test_check_agrees_with_loading_for_a_truncated_file(fashion_root, capsys):  # review 4.23
    path = raw_file(fashion_root, "t10k-images-idx3-ubyte")
    path.write_bytes(path.read_bytes()[:-1000])
    load_fails_naming(fashion_root, "t10k-images-idx3-ubyte", "truncated")
    assert D.main(["--root", str(fashion_root), "--check"]) == 1
    out = capsys.readouterr().out
    assert "Broken: the notebooks will stop" in out and "fall back" not in out


def test_check_of_an_empty_folder_says_the_notebooks_fall_back(tmp_path, capsys):
    assert D.main(["--root", str(tmp_path), "--check"]) == 1
    assert "fall back to scikit-learn's digits" in capsys.readouterr().out
    with pytest.warns(DatasetFallbackWarning):
        assert load_dataset("auto", root=tmp_path, download=False, verbose=False).name == "digits"


def test_a_folder_in_place_of_a_file_is_called_a_folder(fashion_root):  # review 4.6
    path = raw_file(fashion_root, "train-labels-idx1-ubyte")
    path.unlink()
    path.mkdir()
    load_fails_naming(fashion_root, "train-labels-idx1-ubyte", "is a folder")


def test_in_a_notebook_the_fallback_is_one_banner_without_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(utils.plotting, "in_notebook", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetFallbackWarning)  # a warning would be the pink stderr box
        splits = load_dataset("auto", root=tmp_path, download=False, verbose=False)
    captured = capsys.readouterr()
    assert splits.name == "digits" and captured.out.count("FashionMNIST is not available") == 1
    assert captured.err == ""


def test_an_unreadable_file_is_a_dataset_file_error(fashion_root, monkeypatch, capsys):  # review 4.16
    real_open = D.Path.open

    def no_permission(self, *args, **kwargs):
        if self.name == "train-images-idx3-ubyte":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(D.Path, "open", no_permission)
    load_fails_naming(fashion_root, "train-images-idx3-ubyte", "cannot be read.*Permission denied")
    assert D.main(["--root", str(fashion_root), "--check"]) == 1  # reported, not raised
    assert "Permission denied" in capsys.readouterr().out


def test_the_digits_read_from_scikit_learns_file_equal_load_digits():
    from sklearn.datasets import load_digits

    images, labels = D._digits_arrays()
    reference = load_digits()
    assert np.array_equal(images, reference.images) and np.array_equal(labels, reference.target)


def test_without_that_file_the_digits_come_from_load_digits(monkeypatch):
    from sklearn.datasets import load_digits

    monkeypatch.setattr(D, "DIGITS_FILE", Path("datasets", "data", "no_such_file.csv.gz"))
    images, labels = D._digits_arrays()
    assert np.array_equal(images, load_digits().images) and np.array_equal(labels, load_digits().target)


@pytest.mark.slow  # starts a Python process
def test_loading_the_digits_does_not_import_scikit_learn():
    code = ("import sys, utils; utils.load_dataset('digits', verbose=False); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "OPTIM_OFFLINE": "1"})
    assert out.stdout.strip() == "False"
