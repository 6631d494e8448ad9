"""utils.evaluation: predictions, confusion matrix, per-class accuracy and their pictures (notebook 06)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.metrics import classification_report
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from torch import nn

import utils
from utils.evaluation import (
    confusion_matrix,
    most_confused,
    per_class_accuracy,
    per_class_table,
    plot_confusion_matrix,
    predict,
)

# rows: true class, columns: predicted class; not symmetric, so rows and columns cannot be mixed up unnoticed
CONFUSION = torch.tensor([[50, 3, 2], [10, 30, 0], [5, 5, 10]])


def test_confusion_matrix_matches_scikit_learn():
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 7, (500,), generator=gen)
    predictions = torch.where(torch.rand(500, generator=gen) < 0.6, targets, torch.randint(0, 7, (500,), generator=gen))
    ours = confusion_matrix(targets, predictions, 7)
    assert ours.shape == (7, 7) and ours.sum() == 500
    assert torch.equal(ours, torch.as_tensor(sklearn_confusion_matrix(targets, predictions, labels=range(7))))
    assert ours.diagonal().sum() == (targets == predictions).sum()


def test_confusion_matrix_counts_classes_that_never_occur():
    cm = confusion_matrix(torch.tensor([0, 0, 2]), torch.tensor([0, 2, 2]), 4)
    assert cm.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("targets,predictions,num_classes,match", [
    ([0, 1], [0, 1], 0, "num_classes"),
    ([0, 1, 2], [0, 1], 3, "same length"),
    ([0, 3], [0, 1], 3, "targets must lie in 0 .. 2"),
    ([0, 1], [0, -1], 3, "predictions must lie"),
    ([0.0, 1.0], [0, 1], 3, "integer class indices"),
])
def test_confusion_matrix_rejects_bad_input(targets, predictions, num_classes, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(torch.tensor(targets), torch.tensor(predictions), num_classes)


def test_per_class_accuracy_divides_by_rows_not_columns():
    accuracy = per_class_accuracy(CONFUSION)
    assert torch.allclose(accuracy, torch.tensor([50 / 55, 30 / 40, 10 / 20], dtype=torch.float64))
    precision = CONFUSION.diagonal().double() / CONFUSION.sum(dim=0)
    assert not torch.allclose(accuracy, precision)
    # the overall accuracy is the average of the per-class accuracies weighted by class size
    sizes = CONFUSION.sum(dim=1).double()
    assert math.isclose(((accuracy * sizes).sum() / sizes.sum()).item(), 90 / 115, rel_tol=1e-12)


def test_per_class_accuracy_of_an_empty_class_is_nan_and_bad_shapes_are_refused():
    accuracy = per_class_accuracy(torch.tensor([[2, 0], [0, 0]]))
    assert accuracy[0] == 1.0 and math.isnan(accuracy[1])
    with pytest.raises(ValueError, match="square"):
        per_class_accuracy(torch.ones(2, 3))
    with pytest.raises(ValueError, match="negative"):
        per_class_accuracy(torch.tensor([[1, -1], [0, 1]]))


def test_most_confused():
    classes = ["cat", "dog", "fox"]
    assert most_confused(CONFUSION, classes, k=2) == [("dog", "cat", 10), ("fox", "cat", 5)]
    assert most_confused(CONFUSION, classes, k=np.int64(1)) == [("dog", "cat", 10)]
    assert most_confused(torch.eye(3, dtype=torch.long), classes) == []  # no mistakes, nothing to list
    with pytest.raises(ValueError, match="k must be an integer"):
        most_confused(CONFUSION, classes, k=0)


def test_per_class_table_is_scikit_learns_report_of_the_same_samples():
    classes = ["cat", "dog", "fox"]
    true = np.repeat([0, 0, 0, 1, 1, 2, 2, 2], [50, 3, 2, 10, 30, 5, 5, 10])
    predicted = np.repeat([0, 1, 2, 0, 1, 0, 1, 2], [50, 3, 2, 10, 30, 5, 5, 10])
    assert torch.equal(confusion_matrix(torch.as_tensor(true), torch.as_tensor(predicted), 3), CONFUSION)
    table = per_class_table(CONFUSION, classes)
    assert table == classification_report(true, predicted, target_names=classes, digits=3)
    dog = next(line.split() for line in table.splitlines() if line.strip().startswith("dog"))
    assert dog == ["dog", "0.789", "0.750", "0.769", "40"]  # recall = per-class accuracy = 30 / 40
    assert math.isclose(float(dog[2]), per_class_accuracy(CONFUSION)[1].item(), abs_tol=5e-4)
    never_predicted = torch.tensor([[5, 0], [3, 0]])  # class "b" is never predicted: precision 0, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "b" in per_class_table(never_predicted, ["a", "b"])
    with pytest.raises(ValueError, match="classes has 2 names"):
        per_class_table(CONFUSION, classes[:2])


def test_plot_confusion_matrix_is_scikit_learns_display_with_rows_summing_to_one():
    fig = plot_confusion_matrix(CONFUSION, ["a", "b", "c"])
    assert isinstance(fig, Figure)
    image = np.asarray(fig.axes[0].images[0].get_array())
    assert np.allclose(image.sum(axis=1), 1.0)
    assert fig.axes[0].images[0].get_clim() == (0, 1)
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["0.91", "0.05", "0.04"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    assert fig.axes[0].get_ylabel() == "true class" and fig.axes[1].get_ylabel() == "fraction of the true class"
    counts = plot_confusion_matrix(CONFUSION, ["a", "b", "c"], normalize=False)
    assert counts.axes[0].texts[0].get_text() == "50"
    empty_row = plot_confusion_matrix(torch.tensor([[2, 0], [0, 0]]), ["a", "b"])  # no sample of b: zeros, no NaN
    assert np.array_equal(np.asarray(empty_row.axes[0].images[0].get_array()), [[1.0, 0.0], [0.0, 0.0]])


def test_predict_agrees_with_evaluate_and_restores_the_mode(digits):
    torch.manual_seed(0)
    model = utils.MLP(digits.input_shape, digits.num_classes, hidden=32, dropout=0.5)
    loaders = utils.make_loaders(digits, batch_size=32, eval_batch_size=50)
    utils.fit(model, loaders.train, epochs=2, optimizer="sgd", lr=0.1)
    model.train()
    predictions, targets = predict(model, loaders.val)
    assert model.training  # put back in the mode it was in
    assert predictions.shape == targets.shape == (len(digits.val),)
    assert torch.equal(targets, digits.val.tensors[1])
    reference = utils.evaluate(model, loaders.val, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert math.isclose((predictions == targets).double().mean().item(), reference.accuracy)
    assert torch.equal(predict(model, loaders.val)[0], predictions)  # eval mode: dropout off, deterministic

    logits, targets_again = predict(model, loaders.val, "cpu", return_logits=True)
    assert logits.shape == (len(digits.val), digits.num_classes) and torch.equal(targets_again, targets)
    assert torch.equal(logits.argmax(dim=1), predictions)
    loss = nn.functional.cross_entropy(logits, targets).item()
    assert math.isclose(loss, reference.loss, rel_tol=1e-5)


def test_predict_refuses_an_empty_loader():
    with pytest.raises(ValueError, match="no batches"):
        predict(nn.Linear(2, 2), [])
