"""Exercises of notebook 05b (tuning): each checker, its hint, its solution code and a typical mistake.

Explained in notebooks/05b_tuning.ipynb.
"""

from __future__ import annotations

from typing import Any

from .core import Exercise, Incorrect, as_number, register


def _check_grid_distinct(answer: Any) -> None:
    value = as_number(answer, "the number of distinct learning rates")
    if value == 64:
        raise Incorrect("64 is how many distinct learning rates random search tries with 64 trials. A full grid "
                        "spends its 64 trials on every combination of its values: how many values per axis is that?")
    if abs(value - 64 / 3) < 1:
        raise Incorrect("the budget is not split between the axes, it is multiplied: a grid with k values on each "
                        "of 3 axes costs k x k x k trials.")
    if value == 3 or abs(value - 8) < 1e-6:
        raise Incorrect(f"{value:g} values per axis give {value:g} ** 3 = {value ** 3:g} runs, not 64. "
                        "Find k with k ** 3 = 64.")
    if not abs(value - 4) < 1e-6:  # 64 ** (1/3) is 3.9999999999999996 in floating point: that is 4
        raise Incorrect(f"{value:g} is not it: find k with k ** 3 = 64.")


register("05b", Exercise(
    name="q1",
    question="You have a budget of 64 training runs to tune three hyperparameters (learning rate, batch size, "
             "weight decay) with a full grid, the same number of values on every axis. How many distinct "
             "learning rates does the grid try? (Random search with 64 trials tries 64.)",
    checker=_check_grid_distinct,
    hint_text="A grid with k values on each of the 3 axes has k * k * k points.",
    solution_code="budget, axes = 64, 3\n"
                  "answer = round(budget ** (1 / axes))   # 4 values per axis: 4 * 4 * 4 = 64\n",
    explanation="A grid multiplies: k values on each of three axes cost k**3 trials, so 64 trials buy 4 values "
                "per axis. If only the learning rate matters, 60 of the 64 runs repeat one of 4 learning rates.",
    typical_mistake=lambda: 64,
    praise="4 learning rates against random search's 64, for the same cost: the heart of Bergstra & Bengio (2012).",
))


def _check_halving_budget(answer: Any) -> None:
    value = as_number(answer, "the number of epochs")
    if value == 243:
        raise Incorrect("243 = 27 x 9 is the cost of training every configuration to the end, without halving.")
    if value == 81:
        raise Incorrect("81 = 27 x 1 + 9 x 3 + 3 x 9 retrains every survivor from scratch at each rung. The "
                        "survivors keep their weights: a configuration promoted to 3 epochs trains 2 more epochs, "
                        "not 3.")
    if value == 39:
        raise Incorrect("39 = 27 + 9 + 3 counts runs per rung, not epochs: a survivor trains several epochs "
                        "at the later rungs.")
    if value == 21:
        raise Incorrect("21 is the notebook's example with 9 configurations; here there are 27.")
    if value == 27:
        raise Incorrect("27 counts only the first rung (or only the winner's 9 epochs x 3): add the epochs of "
                        "every rung.")
    if not abs(value - 63) < 1e-6:
        raise Incorrect(f"{value:g} epochs is not it: count, for each rung, how many runs train and for how many "
                        "additional epochs.")


register("05b", Exercise(
    name="q2",
    question="Successive halving with 27 configurations and rungs at 1, 3 and 9 epochs: all 27 train 1 epoch, the "
             "best third (9) continue to epoch 3, the best third of those (3) continue to epoch 9. Runs keep their "
             "weights between rungs. How many epochs are trained in total?",
    checker=_check_halving_budget,
    hint_text="Rung by rung: (runs alive) x (epochs of this rung - epochs already trained).",
    solution_code="alive, trained, total = 27, 0, 0\n"
                  "for epochs in (1, 3, 9):\n"
                  "    total += alive * (epochs - trained)   # each survivor continues where it stopped\n"
                  "    trained = epochs\n"
                  "    alive //= 3                           # keep the best third\n"
                  "answer = total   # 27*1 + 9*2 + 3*6 = 63\n",
    explanation="Each rung trains the survivors only for the epochs they have not done yet. 63 epochs instead of "
                "27 x 9 = 243 for training everything to the end: about a quarter of the cost.",
    typical_mistake=lambda: 243,
    praise="63 epochs, about a quarter of 243: the bad configurations were stopped after one epoch.",
))
