"""utils.autograd_graph.graph_size: nodes grow with `total = total + loss`; backward() frees the saved tensors."""

from __future__ import annotations

import pytest
import torch

from utils.autograd_graph import count_nodes, graph_size, walk_graph


def test_nodes_and_saved_bytes():
    w = torch.ones(1000, requires_grad=True)
    y = w.exp().sum()  # exp saves its result: 1000 float32 = 4000 bytes
    nodes, saved = graph_size(y, exclude=[w])
    assert nodes == 3  # SumBackward, ExpBackward, AccumulateGrad
    assert saved == 4000
    y.backward()
    assert graph_size(y, exclude=[w]) == (3, 0)  # the nodes stay; backward() freed what they saved


def test_total_of_losses_keeps_nodes_not_tensors_after_backward():
    w = torch.ones(100, requires_grad=True)
    total = 0.0
    sizes = []
    for _ in range(3):
        loss = (w * 3.0).exp().sum()
        loss.backward()
        total = total + loss
        sizes.append(graph_size(total, exclude=[w]))
    assert sizes[0][0] < sizes[1][0] < sizes[2][0] and all(saved == 0 for _, saved in sizes)


def test_rejects_a_non_tensor():
    with pytest.raises(TypeError, match="tensor must be a torch.Tensor"):
        graph_size(1.0)


def test_walk_graph_marks_a_tensor_used_twice():
    w = torch.tensor(2.0, requires_grad=True)
    y = w * torch.tensor(3.0) + w.sin()
    lines = walk_graph(y, names={id(w): "w"})
    assert lines[0] == "AddBackward0"
    assert sum("-> w ()" in line for line in lines) == 2 and sum(line.endswith("(seen)") for line in lines) == 1
    assert count_nodes(y) == 4  # Add, Mul, Sin and one AccumulateGrad
    assert walk_graph(torch.tensor(1.0)) == []  # nothing recorded
    with pytest.raises(TypeError):
        walk_graph(1.0)
