"""The models the series trains.

Explained in notebooks/01_optimization_loops.ipynb. Both output raw scores (logits): no activation after
the last layer, because ``nn.CrossEntropyLoss`` applies log-softmax itself (notebook 02 shows why).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """The network of PyTorch's "Learn the Basics": flatten -> 512 -> ReLU -> 512 -> ReLU -> classes.

    ``input_shape`` (e.g. ``(1, 28, 28)``) and ``num_classes`` come from the dataset, so the same class
    serves FashionMNIST and the 8x8 digits. ``dropout`` > 0 adds dropout after each hidden layer (used in
    notebook 01 to show why ``model.eval()`` matters).
    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 512, dropout: float = 0.0):
        super().__init__()
        if hidden < 1:
            raise ValueError(f"hidden must be a positive integer, got {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, num_classes))  # logits: no ReLU, no softmax
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SmallCNN(nn.Module):
    """Two 3x3 convolution blocks and a linear classifier; works for 28x28 and 8x8 inputs alike."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: int = 16):
        super().__init__()
        in_channels, height, width = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * channels * (height // 4) * (width // 4), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


MODELS = {"mlp": MLP, "cnn": SmallCNN}


def make_model(name: str, input_shape: tuple[int, ...], num_classes: int, **kwargs) -> nn.Module:
    """Build a model by name (``"mlp"`` or ``"cnn"``) for data of ``input_shape`` with ``num_classes``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](input_shape, num_classes, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
