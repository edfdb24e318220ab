"""Head-to-head experiments: an LSTM and a Transformer of the same size, on the same task, the same way.

Chapter 7 compares the two architectures on the book's long-range tasks across lengths and
seeds. Every cell of such a sweep is one call::

    run("lstm", "parity", size=16, seed=0, test_sizes=(16, 64))   -> list of dicts, one per test size

(a fixed budget of steps), or :func:`converge` (train on a stream of fresh batches until the
loss on a validation set stops improving: the protocol of the stored sweep ``long_range``),

which builds a fresh model with a parameter budget (:func:`make_model`, sizes matched by
:func:`matched_widths`), trains it on freshly generated data of one size and tests it on new
data of every size in ``test_sizes`` (train short, test long). The tasks (:data:`TASKS`) say
how inputs are read (tokens or features), where the answer is read out (the last real
position, every position, or the last few) and how it is scored.

The Transformer here is :class:`seqlib.models.CausalTransformer`, a stack of the book's
:class:`seqlib.transformer.EncoderLayer` under a causal mask with rotary positions (Chapter 5's
best extrapolator), read out like the LSTM (:class:`seqlib.models.RecurrentModel`):
both models see the sequence left to right, so the only difference is how they remember.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import train
from ._validate import check_int
from .data import tasks
from .data.batch import SeqData
from .models import CausalTransformer, RecurrentModel
from .runtime import seed_everything

__all__ = ["Task", "TASKS", "count_parameters", "make_model", "matched_size", "matched_widths", "run",
           "converge"]


@dataclass(frozen=True)
class Task:
    """How one of the book's tasks is generated, read and scored in a head-to-head run.

    Attributes:
        name: the task's name in :data:`TASKS`.
        size_name: what ``size`` means for it (``"length"`` of the sequence, or ``"pairs"``).
        make: ``make(n, size, seed) -> SeqData``, the generator.
        tokens: whether inputs are token ids (else float features of width ``input_size``).
        input_size: the vocabulary size, or the number of features per step.
        output_size: classes of the read-out (1 for a number).
        readout: ``"last"`` (one answer per sequence, at its last real position), ``"steps"``
            (an answer at every position; targets ``IGNORE`` where none is asked) or ``"tail"``
            (one answer at each of the last ``y.shape[1]`` positions).
        loss: ``"cross_entropy"`` or ``"mse"``.
        chance: the score of a model that ignores the input (accuracy, or the mean squared error
            of the best constant for ``"mse"``).
    """

    name: str
    size_name: str
    make: Callable
    tokens: bool
    input_size: int
    output_size: int
    readout: str
    loss: str
    chance: float


def _adding(n, size, seed):
    return tasks.adding_problem(n, size, seed=seed)


def _selective_copy(n, size, seed):
    return tasks.selective_copy(n, size, num_tokens=4, num_symbols=4, seed=seed)


def _recall(n, size, seed):
    return tasks.associative_recall(n, size, num_keys=16, num_values=8, seed=seed)


def _parity(n, size, seed):
    return tasks.parity_task(n, size, min_length=1, seed=seed)


#: The four head-to-head tasks by name (adding, selective_copy, recall and parity).
TASKS: dict[str, Task] = {
    "adding": Task("adding", "length", _adding, False, 2, 1, "last", "mse", 1 / 6),
    "selective_copy": Task("selective_copy", "length", _selective_copy, True, 7, 7, "tail", "cross_entropy", 1 / 4),
    "recall": Task("recall", "pairs", _recall, True, 25, 25, "steps", "cross_entropy", 1 / 8),
    "parity": Task("parity", "length", _parity, True, 3, 2, "last", "cross_entropy", 1 / 2),
}


def _task(task) -> Task:
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    return TASKS[task]


class _Tail(nn.Module):
    """Keep the last ``k`` positions of a per-step model's output: (B, T, C) -> (B, k, C)."""

    def __init__(self, model: nn.Module, k: int):
        super().__init__()
        self.model, self.k = model, k

    def forward(self, x, lengths=None):
        return self.model(x)[:, -self.k:]  # (B, k, C)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (entries of every tensor that requires a gradient)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters needs an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


KINDS = ("lstm", "transformer")


def make_model(kind: str, task, width: int, *, tail: int = 4) -> nn.Module:
    """A fresh model of ``kind`` (``"lstm"`` or ``"transformer"``) for ``task``, ``width`` wide.

    ``width`` is the LSTM's hidden size H (tokens embedded in 16 dimensions), or the
    Transformer's d_model (2 layers, 2 heads; a multiple of 4, for rotary positions in pairs).
    ``tail`` is the number of answers read from the end for a ``"tail"`` task.
    """
    t = _task(task)
    check_int(width, "width", minimum=1)
    per_step = t.readout in ("steps", "tail")
    squeeze = t.output_size == 1
    if kind == "lstm":
        model = RecurrentModel("lstm", t.input_size, width, t.output_size, tokens=t.tokens, embed_dim=16,
                               per_step=per_step, squeeze=squeeze)
    elif kind == "transformer":
        if width % 4:
            raise ValueError(f"a Transformer's width (d_model) must be a multiple of 4 (2 heads, rotary pairs), "
                             f"got {width}")
        model = CausalTransformer(t.input_size, width, t.output_size, tokens=t.tokens, per_step=per_step,
                                  squeeze=squeeze)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return _Tail(model, tail) if t.readout == "tail" else model


def matched_size(kind: str, task, budget: int) -> int:
    """The width of ``kind`` for ``task`` whose parameter count is closest to ``budget``.

    Widths are tried in steps of 1 (LSTM) or 4 (Transformer) up to 256; ties go to the smaller.
    """
    check_int(budget, "budget", minimum=1)
    step = 4 if kind == "transformer" else 1
    widths = range(step, 257, step)
    counts = {w: count_parameters(make_model(kind, task, w)) for w in widths}
    return min(widths, key=lambda w: (abs(counts[w] - budget), w))


@functools.lru_cache(maxsize=None)
def _matched(task_name: str, budget: int) -> tuple:
    d = matched_size("transformer", task_name, budget)
    target = count_parameters(make_model("transformer", task_name, d))
    return matched_size("lstm", task_name, target), d


def matched_widths(task, budget: int) -> dict:
    """Widths of an LSTM and a Transformer for ``task`` with (nearly) the same number of parameters.

    The Transformer's width moves in steps of 4, so it is chosen first, nearest to ``budget``;
    the LSTM's hidden size, which moves in steps of 1, is then matched to the Transformer's count.

    Returns:
        A dict ``{"lstm": H, "transformer": d_model}``.
    """
    check_int(budget, "budget", minimum=1)
    H, d = _matched(_task(task).name, budget)
    return {"lstm": H, "transformer": d}


def _score(task: Task, out: torch.Tensor, y: torch.Tensor) -> dict:
    if task.loss == "mse":
        return {"mse": train.mse(out, y).item(), "accuracy": ((out - y).abs() < 0.1).float().mean().item()}
    return {"accuracy": train.accuracy(out, y)}


def _test_sizes(size: int, test_sizes) -> tuple:
    return (size,) if test_sizes is None else tuple(check_int(s, "test size", minimum=1) for s in test_sizes)


def _fresh_model(kind: str, t: Task, width: int | None, budget: int, seed: int) -> nn.Module:
    """A freshly seeded model of ``kind`` for task ``t``: ``width`` wide, or matched to ``budget``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    width = matched_widths(t, budget)[kind] if width is None else width
    seed_everything(seed)
    return make_model(kind, t, width)


def _test_rows(kind: str, t: Task, model: nn.Module, size: int, seed: int, test_sizes: tuple, n_test: int) -> list:
    """One dict per test size: ``n_test`` new examples (seed 10,000 + ``seed``), scored."""
    rows = []
    for test_size in test_sizes:
        test = t.make(n_test, test_size, 10_000 + seed)
        out = train.predict(model, test)
        rows.append({"kind": kind, "task": t.name, "train_size": size, "test_size": test_size, "seed": seed,
                     "parameters": count_parameters(model), **_score(t, out, test.y)})
    return rows


def run(kind: str, task, size: int, seed: int, *, test_sizes=None, width: int | None = None, budget: int = 8000,
        steps: int = 300, batch_size: int = 32, lr: float = 3e-3, n_test: int = 500) -> list[dict]:
    """Train one model on one task at one size, and test it at several sizes.

    The model (``width``, or the width matching ``budget`` parameters) is trained with Adam for
    ``steps`` steps of fresh batches at ``size`` (gradients clipped at 1), then tested on
    ``n_test`` new examples at each of ``test_sizes`` (default: ``size`` only).

    Returns:
        One dict per test size, with kind, task, train_size, test_size, seed, parameters,
        seconds (training time), accuracy, and mse for the adding problem.
    """
    t = _task(task)
    check_int(size, "size", minimum=1)
    check_int(seed, "seed", minimum=0)
    check_int(steps, "steps", minimum=1)
    test_sizes = _test_sizes(size, test_sizes)
    model = _fresh_model(kind, t, width, budget, seed)
    data: SeqData = t.make(steps * batch_size, size, seed)
    begin = time.perf_counter()
    train.fit(model, data, epochs=1, batch_size=batch_size, lr=lr, loss=t.loss, metrics=(), clip=1.0, seed=seed,
              progress=False)
    seconds = time.perf_counter() - begin
    return [{**row, "seconds": seconds} for row in _test_rows(kind, t, model, size, seed, test_sizes, n_test)]


def converge(kind: str, task, size: int, seed: int, *, lr: float, test_sizes=None, width: int | None = None,
             budget: int = 8000, batch_size: int = 64, round_steps: int = 100, max_rounds: int = 30,
             patience: int = 5, n_val: int = 500, n_test: int = 500):
    """Train one model on one task until its validation loss stops improving, then test it.

    Training reads a stream of fresh examples at ``size``: each *round* is ``round_steps``
    Adam steps on ``round_steps * batch_size`` new examples (gradients clipped at 1), so no
    example is seen twice and a model cannot overfit. After each round the loss on ``n_val``
    validation examples (fixed, at ``size``) decides: training stops once it has not improved
    for ``patience`` rounds (at most ``max_rounds``), and the best round's weights are kept.
    Validation, test and training data come from disjoint seeds.

    Returns:
        ``(rows, history)``: one dict per test size (kind, task, train_size, test_size, seed,
        parameters, accuracy, and mse for the adding problem), and the per-round
        :class:`seqlib.train.History` (``train_loss``, ``val_loss``, ``val_accuracy``).
    """
    t = _task(task)
    check_int(size, "size", minimum=1)
    check_int(seed, "seed", minimum=0, maximum=9_999)
    for value, name in ((round_steps, "round_steps"), (patience, "patience"),
                        (n_val, "n_val"), (n_test, "n_test")):
        check_int(value, name, minimum=1)
    check_int(max_rounds, "max_rounds", minimum=1, maximum=999)  # round seeds stay below the next seed's
    test_sizes = _test_sizes(size, test_sizes)
    model = _fresh_model(kind, t, width, budget, seed)
    val = t.make(n_val, size, 20_000 + seed)

    def stream(round_: int) -> SeqData:  # round 1, 2, ...: fresh examples from seeds no other set uses
        return t.make(round_steps * batch_size, size, 100_000 + 1_000 * seed + round_)

    metrics = ("accuracy",) if t.loss == "cross_entropy" else ()
    history = train.fit(model, stream, epochs=max_rounds, batch_size=batch_size, lr=lr, loss=t.loss,
                        metrics=metrics, val=val, clip=1.0, seed=seed, patience=patience, progress=False)
    return _test_rows(kind, t, model, size, seed, test_sizes, n_test), history
