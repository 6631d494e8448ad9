"""Exercises of notebook 03b (notebooks/03b_initialization.ipynb): each checker, its hint, its solution and a
typical mistake."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, expect_close, register

# q1: Kaiming's std for a ReLU layer of fan-in 512; q2: init_kaiming(model) on every nn.Linear.
_NB03B_FAN_IN = 512


def _nb03b_check_q1(answer: Any) -> None:
    value = as_number(answer, "sigma")
    right = math.sqrt(2 / _NB03B_FAN_IN)
    if math.isclose(value, math.sqrt(1 / _NB03B_FAN_IN), rel_tol=1e-3):
        raise Incorrect("that is sqrt(1/n), Xavier's scale for square layers: under ReLU it halves the second moment "
                        "at every layer. ReLU keeps half of E[z^2], so the weights need twice the variance.")
    if math.isclose(value, 2 / _NB03B_FAN_IN, rel_tol=1e-3):
        raise Incorrect("that is the variance sigma^2 = 2/n; the question asks for the standard deviation sigma.")
    if math.isclose(value, right, rel_tol=0.05) and not math.isclose(value, right, rel_tol=1e-2):
        raise Incorrect(f"close: sigma = {value:g} is within 5% of the answer but rounded too far. "
                        "Give at least three significant digits.")
    expect_close(value, right, what="sigma", rel=1e-2)


register("03b", Exercise(
    name="q1",
    question="Fan-in 512, followed by a ReLU: which std sigma of normal weights keeps the second moment constant?",
    checker=_nb03b_check_q1,
    hint_text="One layer multiplies the second moment by n * sigma^2 * (what the activation keeps). ReLU keeps half. "
              "Set the product to 1, solve for sigma^2, then take the square root.",
    explanation="n * sigma^2 / 2 = 1 gives sigma^2 = 2 / n = 2 / 512, so sigma = sqrt(2 / 512) = 0.0625.",
    solution_code="import math\n\n"
                  "answer = math.sqrt(2 / 512)   # 0.0625\n",
    typical_mistake=lambda: math.sqrt(1 / _NB03B_FAN_IN),
    praise="sigma = sqrt(2/n) = 0.0625: twice Xavier's variance, because ReLU drops half the signal.",
))


def _nb03b_init_mistake(model):
    """Xavier instead of Kaiming: the right shape of code, the wrong variance for ReLU."""
    import torch
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            with torch.no_grad():
                module.bias.zero_()
    return model


def _nb03b_q2_model():
    """The network q2's checker initializes: nested on purpose, so that only model.modules() finds every layer."""
    from torch import nn

    inner = nn.Sequential(nn.Linear(300, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU())
    return inner, nn.Sequential(inner, nn.Linear(400, 100))


def _nb03b_check_q2(answer: Any) -> None:
    import torch

    if not callable(answer):
        raise Incorrect(f"answer should be a function init_kaiming(model), got {type(answer).__name__}")
    with torch.random.fork_rng(devices=[]):  # the learner's global random state is left as it was
        torch.manual_seed(0)
        inner, model = _nb03b_q2_model()
        try:
            returned = answer(model)
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"calling init_kaiming(model) raised {type(err).__name__}: {err}. It is given a whole "
                            "model: loop over model.modules() and initialize the nn.Linear ones.") from None
    if returned is not model:
        raise Incorrect("return the model you were given (init_kaiming changes it in place and returns it).")
    for name, layer in [("inner[0]", inner[0]), ("inner[2]", inner[2]), ("the last layer", model[1])]:
        expected = math.sqrt(2 / layer.in_features)
        got = layer.weight.std().item()
        if not math.isfinite(got):
            raise Incorrect(f"{name}: the weights are not finite numbers (std {got}).")
        xavier = math.isclose(got, math.sqrt(1 / layer.in_features), rel_tol=0.05) or math.isclose(
            got, math.sqrt(2 / (layer.in_features + layer.out_features)), rel_tol=0.05)
        if xavier and name == "the last layer":
            raise Incorrect("the last layer has Xavier's scale. No ReLU follows it, so that is a sensible choice in "
                            "practice (section 4), but this exercise asks for Kaiming's scheme in every nn.Linear.")
        if xavier:
            raise Incorrect(f"{name}: weight std {got:.4f} is Xavier's scale; this layer is followed by a ReLU: use "
                            "nn.init.kaiming_normal_(w, nonlinearity='relu'), std sqrt(2 / fan_in).")
        if math.isclose(got, math.sqrt(2 / layer.out_features), rel_tol=0.05) and layer.in_features != layer.out_features:
            raise Incorrect(f"{name}: std {got:.4f} uses fan-out; the forward pass needs fan-in (mode='fan_in').")
        if not math.isclose(got, expected, rel_tol=0.05):
            raise Incorrect(f"{name}: weight std is {got:.4f}, Kaiming's scheme gives sqrt(2/{layer.in_features}) = "
                            f"{expected:.4f}. Did you reach every nn.Linear (model.modules())?")
        weights = layer.weight.detach().double().flatten()
        mean = weights.mean().item()
        if abs(mean) > 0.1 * expected:  # mean 0 is what the variance algebra assumes
            raise Incorrect(f"{name}: the weights' mean is {mean:.4f}, not 0. Kaiming's scheme draws them around 0: "
                            "a shifted mean breaks the variance argument (section 1).")
        kurtosis = ((weights - mean) ** 4).mean().item() / got**4  # 3 for a normal, 1.8 uniform, 1 for +-c
        if not 2.5 < kurtosis < 3.5:
            raise Incorrect(f"{name}: the right spread, but the weights are not normally distributed (kurtosis "
                            f"{kurtosis:.2f}, a normal's is 3{'; this looks uniform: kaiming_uniform_' if 1.6 < kurtosis < 2.0 else ''}"
                            "). Use nn.init.kaiming_normal_.")
        if layer.bias.abs().max().item() != 0.0:
            raise Incorrect(f"{name}: set the bias to 0 (nn.init.zeros_(layer.bias)).")


register("03b", Exercise(
    name="q2",
    question="Write init_kaiming(model): Kaiming-normal weights for ReLU and zero biases in every nn.Linear; return it.",
    checker=_nb03b_check_q2,
    hint_text="model.modules() visits every layer, nested ones included; isinstance(module, nn.Linear) picks the "
              "linear ones. torch.nn.init has a function named after Kaiming (it needs to know the activation) and "
              "one that fills a tensor with zeros. Functions ending in _ change the tensor in place.",
    explanation="model.modules() walks nested containers too. kaiming_normal_ with its default mode='fan_in' draws "
                "N(0, 2 / fan_in), the scale that keeps a ReLU stack's second moment constant.",
    solution_code="from torch import nn\n\n\n"
                  "def init_kaiming(model):\n"
                  "    for module in model.modules():\n"
                  "        if isinstance(module, nn.Linear):\n"
                  "            nn.init.kaiming_normal_(module.weight, nonlinearity=\"relu\")\n"
                  "            nn.init.zeros_(module.bias)\n"
                  "    return model\n\n\n"
                  "answer = init_kaiming\n",
    typical_mistake=lambda: _nb03b_init_mistake,
    praise="every Linear layer at std sqrt(2 / fan_in), biases at 0.",
))
