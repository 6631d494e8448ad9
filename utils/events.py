"""The names of the events ``fit`` sends to its ``log`` hooks, spelled once.

A hook is any callable ``hook(name, value, step)``. ``fit`` sends, in this order:
``TRAIN_BATCH_LOSS`` for a step's loss (read back every ``log_every`` steps), then once per epoch
``TRAIN_LOSS``, ``TRAIN_ACC``, ``VAL_LOSS``, ``VAL_ACC`` (when there is validation data), ``LR``, and last
``EPOCH`` (a live plot redraws when it arrives). Explained in notebooks/06_putting_it_all_together.ipynb.
"""

TRAIN_BATCH_LOSS = "train/batch_loss"
TRAIN_LOSS = "train/loss"
TRAIN_ACC = "train/acc"
VAL_LOSS = "val/loss"
VAL_ACC = "val/acc"
LR = "lr"
EPOCH = "epoch"

#: the per-epoch events and the History record key each one carries
EPOCH_EVENTS = ((TRAIN_LOSS, "train_loss"), (TRAIN_ACC, "train_acc"), (VAL_LOSS, "val_loss"), (VAL_ACC, "val_acc"),
                (LR, "lr"))
