"""Input checks shared by seqlib: every message names what was expected and what came."""
from __future__ import annotations

from typing import Sequence

import torch


def as_shape(t) -> tuple:
    return tuple(t.shape)


def check_tensor(x, name: str, *, dims: int | Sequence[int] | None = None, dtype_kind: str | None = None):
    """Raise a clear error unless ``x`` is a tensor with the given number of dims and dtype kind.

    ``dtype_kind`` is ``"int"`` (any integer type), ``"float"`` or ``"bool"``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if x.dim() not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {as_shape(x)} ({x.dim()} dimensions)")
    if dtype_kind == "int" and (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool):
        raise TypeError(f"{name} must hold integers (token ids or lengths), got dtype {x.dtype}")
    if dtype_kind == "float" and not x.is_floating_point():
        raise TypeError(f"{name} must hold floats, got dtype {x.dtype}")
    if dtype_kind == "bool" and x.dtype != torch.bool:
        raise TypeError(f"{name} must be a bool tensor (True = real token), got dtype {x.dtype}")
    return x


def has_values(x: torch.Tensor) -> bool:
    """Whether the checks of ``x``'s values (ids in range, lengths in bounds) can run: False on
    PyTorch's ``meta`` device, whose tensors have a shape, a dtype and a device but no values.
    Code run there for its shapes (a model traced on ``meta``) skips those checks; everything
    else is checked as usual."""
    return x.device.type != "meta"


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Raise a clear error unless ``value`` is an int in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_probability(value, name: str) -> float:
    """Raise a clear error unless ``value`` is a number in [0, 1] (a dropout rate, as PyTorch accepts)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


def check_sequences(x, name: str, features: int, features_name: str, batch_first: bool = True) -> tuple:
    """Raise a clear error unless ``x`` is a float batch of sequences (B, T, features), or (T, B, features)
    when not ``batch_first``; return (B, T)."""
    check_tensor(x, name, dtype_kind="float")
    layout = f"(batch, time, {features_name})" if batch_first else f"(time, batch, {features_name})"
    if x.dim() != 3:
        raise ValueError(f"{name} must have 3 dimensions {layout} with batch_first={batch_first}, got shape "
                         f"{as_shape(x)}; for a single sequence add a batch dimension")
    if x.shape[-1] != features:
        raise ValueError(f"{name} must have {features_name}={features} features in its last dimension, "
                         f"got {x.shape[-1]} ({name} has shape {as_shape(x)})")
    return (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
