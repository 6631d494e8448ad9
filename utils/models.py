"""The models the series trains.

Explained in notebooks/01_optimization_loops.ipynb. Both output raw scores (logits): no activation after
the last layer, because ``nn.CrossEntropyLoss`` applies log-softmax itself (notebook 02 shows why).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .checks import finite_number, positive_int


class MLP(nn.Module):
    """The network of PyTorch's "Learn the Basics": flatten -> 512 -> ReLU -> 512 -> ReLU -> classes.

    ``input_shape`` (e.g. ``(1, 28, 28)``) and ``num_classes`` come from the dataset, so the same class
    serves FashionMNIST and the 8x8 digits. ``dropout`` > 0 adds dropout after each hidden layer (used in
    notebook 01 to show why ``model.eval()`` matters).
    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 512, dropout: float = 0.0):
        super().__init__()
        hidden, num_classes = positive_int(hidden, "hidden"), positive_int(num_classes, "num_classes")
        dropout = finite_number(dropout, "dropout", low=0.0, high=1.0, high_open=True, example="0.2")
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
        channels, num_classes = positive_int(channels, "channels"), positive_int(num_classes, "num_classes")
        in_channels, height, width = input_shape
        if height < 4 or width < 4:
            raise ValueError(f"input_shape must be (channels, height, width) with height and width >= 4 (two "
                             f"2x2 poolings), got {tuple(input_shape)}")
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
