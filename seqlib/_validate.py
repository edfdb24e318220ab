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


def check_lengths(lengths, batch: int | None, max_len: int | None, name: str = "lengths", *, minimum: int = 1,
                  device=None) -> torch.Tensor:
    """Raise a clear error unless ``lengths`` gives one real length per sequence of a padded batch.

    Args:
        lengths: (B,) an integer tensor, or a list of ints (made a tensor on ``device``, else the CPU).
        batch: B, the number of sequences; None skips that check.
        max_len: T, the padded length each length may reach; None for no upper bound.
        minimum: the shortest length allowed: 1 for a model (a sequence needs a real step: a final
            state, a last position, a key to attend to), 0 for data and masks (an empty row is fine).
        device: where the returned lengths live; None leaves a tensor where it is.

    Returns:
        lengths (B,), on ``device`` if one was given. On the meta device (see :func:`has_values`)
        the number of entries is checked, the values are not.
    """
    if not isinstance(lengths, torch.Tensor):  # a list (or NumPy array) of ints
        try:
            lengths = torch.as_tensor(lengths, device=device if device is not None else "cpu")
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a tensor (batch,) or a list of ints, "
                            f"got {type(lengths).__name__}") from None
    check_tensor(lengths, name, dims=1, dtype_kind="int")
    if batch is not None and len(lengths) != batch:
        raise ValueError(f"{name} must have one entry per sequence: expected {batch}, got {len(lengths)}")
    if device is not None:
        lengths = lengths.to(device)
    if not has_values(lengths) or len(lengths) == 0:  # the meta device (shapes only), or no sequence at all
        return lengths
    between = f"each length must lie between {minimum} and {max_len}" if max_len is not None else ""
    if max_len is not None and int(lengths.max()) > max_len:
        where = int(lengths.argmax())
        raise ValueError(f"{name}: a length of {int(lengths[where])} exceeds the padded sequence length {max_len} "
                         f"(at index {where}; {between})")
    if int(lengths.min()) < minimum:
        where = int(lengths.argmin())
        raise ValueError(f"{name}: every length must be at least {minimum}, got {int(lengths[where])} at index "
                         f"{where}" + (f" ({between})" if between else ""))
    return lengths


def check_token_ids(x, vocab_size: int, name: str = "x", *, vocab_name: str = "vocab_size",
                    min_len: int = 0) -> torch.Tensor:
    """Raise a clear error unless ``x`` is a batch of token ids (B, T) for a vocabulary of ``vocab_size``.

    Every id must lie in [0, vocab_size) (an embedding's rows); ``vocab_name`` names that size in
    the message. ``min_len`` 1 asks for at least one token per sequence (T >= 1), as a language
    model does; B = 0 is always allowed. On the meta device the ids' values are not checked.
    """
    check_tensor(x, name, dims=2, dtype_kind="int")
    if x.shape[1] < min_len:
        raise ValueError(f"{name} must hold at least {'one token' if min_len == 1 else f'{min_len} tokens'} per "
                         f"sequence (T >= {min_len}), got T={x.shape[1]} in shape {as_shape(x)}")
    if has_values(x) and x.numel():
        outside = (x < 0) | (x >= vocab_size)  # (B, T)
        if outside.any():
            b, t = (int(i) for i in outside.nonzero()[0])
            raise ValueError(f"{name} must hold token ids in [0, {vocab_size}) ({vocab_name}={vocab_size}), got the "
                             f"token id {int(x[b, t])} at {name}[{b}, {t}], outside the vocabulary")
    return x
