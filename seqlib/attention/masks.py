"""Masks and the masked softmax: the causal and padding masks (True = may attend), and the
helpers that merge, convert and check masks for every kind of attention.

See :mod:`seqlib.attention`.
"""
from __future__ import annotations

import torch

from .._validate import as_shape, check_int, check_tensor
from ..data.batch import lengths_to_mask


def causal_mask(T: int, Tk: int | None = None, offset: int = 0, device=None) -> torch.Tensor:
    """The causal mask (T, Tk), True where query t may attend to key s, that is where s <= offset + t.

    With one length, ``causal_mask(T)`` is the square mask of self-attention. With ``Tk`` keys and
    an ``offset``, query t sits at position ``offset + t``: the mask of a block of queries that
    starts at ``offset`` (chunked attention, Chapter 8), or of new queries after ``offset`` cached
    keys (``Tk = offset + T``). In the book's convention (True = may attend), the one of every
    seqlib module and of ``F.scaled_dot_product_attention``; ``nn.MultiheadAttention`` wants the
    opposite, ``attn_mask=~causal_mask(T)``.
    """
    check_int(T, "T", minimum=1)
    Tk = T if Tk is None else check_int(Tk, "Tk", minimum=1)
    check_int(offset, "offset", minimum=0)
    return _causal(T, Tk, offset, device)  # (T, Tk)


def padding_mask(lengths: torch.Tensor, T: int | None = None) -> torch.Tensor:
    """lengths (B,) -> key mask (B, T), True at real keys (t < lengths[b]), the book's convention.

    The same as :func:`seqlib.data.lengths_to_mask`: the ``key_mask`` of :class:`MultiHeadAttention`.
    PyTorch's ``nn.MultiheadAttention`` wants ``key_padding_mask=~padding_mask(lengths, T)`` (True = ignore).
    """
    return lengths_to_mask(lengths, T)  # (B, T)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax of ``scores`` over their last dimension, with masked keys given weight 0.

    Args:
        scores: the scores (..., Tq, Tk).
        mask: a bool mask, True where a query may attend (masked scores become -inf), or a float
            mask added to the scores; broadcastable to the scores' shape. None allows every key.

    Returns:
        the weights, of the scores' shape, summing to 1 over the allowed keys of each row; a row
        whose keys are all masked (all -inf) gets zeros, where ``torch.softmax`` gives NaN.
    """
    check_tensor(scores, "scores", dtype_kind="float")
    if scores.dim() < 1:
        raise ValueError(f"scores must have at least 1 dimension (the keys), got shape {as_shape(scores)}")
    if mask is not None:
        mask = _check_mask(mask, "mask", as_shape(scores), "scores (..., Tq, Tk)", "True = may attend")
        scores = _apply(scores, mask)
    return _safe_softmax(scores)


def _causal(Tq: int, Tk: int, offset: int, device) -> torch.Tensor:
    """(Tq, Tk) bool, True where key s <= offset + query t: query t sits at position offset + t.

    offset = 0 is PyTorch's top-left alignment (``torch.ones(Tq, Tk).tril()``); a decoder with
    ``offset`` cached keys uses offset = T_past, so its new queries see every cached key.
    """
    q_pos = torch.arange(Tq, device=device)[:, None] + offset  # (Tq, 1)
    k_pos = torch.arange(Tk, device=device)[None, :]  # (1, Tk)
    return k_pos <= q_pos  # (Tq, Tk)


def _apply(scores, mask):
    """scores with the mask applied: -inf where a bool mask is False, plus a float mask."""
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))  # (..., Tq, Tk)
    return scores + mask  # (..., Tq, Tk)


def _safe_softmax(scores):
    """Softmax over the last dimension; rows that are all -inf give zeros (and zero gradients), not NaN."""
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # (..., Tq, 1): no key allowed
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1)  # finite everywhere
    return weights.masked_fill(empty, 0.0)  # (..., Tq, Tk)


def _merge(a, b):
    """Two masks in the may-attend convention (bool True = allowed, or float added) -> one, or None."""
    if a is None or b is None:
        return b if a is None else a
    if a.dtype == torch.bool and b.dtype == torch.bool:
        return a & b
    dtype = a.dtype if a.dtype != torch.bool else b.dtype
    return _to_float(a, dtype) + _to_float(b, dtype)


def _to_float(mask, dtype):
    """A bool may-attend mask as an additive one (0 where allowed, -inf where not); floats unchanged."""
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def _broadcasts(shape, target):
    """Whether ``shape`` broadcasts to ``target`` without growing it."""
    try:
        return torch.broadcast_shapes(shape, target) == tuple(target)
    except RuntimeError:
        return False


def _check_mask(mask, name, target, target_name, meaning):
    """A bool or float mask that broadcasts to ``target`` (a shape), without growing it."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor ({meaning}) or a float tensor (added to the scores), "
                        f"got dtype {mask.dtype}")
    if not _broadcasts(as_shape(mask), target):
        raise ValueError(f"{name} must broadcast to the shape of the {target_name} = {target}, "
                         f"got shape {as_shape(mask)}")
    return mask



def _check_key_mask(mask, name, B, Tk):
    """A mask over the keys (B, Tk): bool (True = a real key, may be attended) or float (added)."""
    if mask is None:
        return None
    check_tensor(mask, name)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor (True = a real key, may be attended) or a float tensor "
                        f"(added to the scores), got dtype {mask.dtype}")
    if as_shape(mask) != (B, Tk):
        raise ValueError(f"{name} must have shape (batch, keys) = {(B, Tk)}, got {as_shape(mask)}")
    return mask


def _check_attention_mask(mask, name, B, h, Tq, Tk, q="Tq", k="Tk"):
    """An attention mask, bool (True = may attend) or float (added): exactly (Tq, Tk), PyTorch's
    (B * h, Tq, Tk), or 4-D and broadcastable to (B, h, Tq, Tk) -> a mask that broadcasts to
    (B, h, Tq, Tk). ``q`` and ``k`` name the two lengths in the message."""
    if mask is None:
        return None
    check_tensor(mask, name)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor (True = may attend) or a float tensor (added to the "
                        f"scores), got dtype {mask.dtype}")
    if mask.dim() == 3 and as_shape(mask) == (B * h, Tq, Tk):
        return mask.view(B, h, Tq, Tk)  # PyTorch's (B*h, Tq, Tk) -> (B, h, Tq, Tk)
    if not (as_shape(mask) == (Tq, Tk) or mask.dim() == 4 and _broadcasts(as_shape(mask), (B, h, Tq, Tk))):
        raise ValueError(f"{name} must have shape ({q}, {k}) = {(Tq, Tk)}, (batch * heads, {q}, {k}) = "
                         f"{(B * h, Tq, Tk)} or broadcast to (batch, heads, {q}, {k}) = {(B, h, Tq, Tk)}, "
                         f"got {as_shape(mask)}")
    return mask


#: PyTorch's names for the masks of nn.MultiheadAttention and the nn.Transformer* layers, whose bool
#: masks mean the opposite of the book's (True = ignore, True = not allowed), and seqlib's names.
TORCH_MASK_NAMES = {"key_padding_mask": "key_mask", "attn_mask": "mask", "src_mask": "mask",
                    "src_key_padding_mask": "key_mask", "tgt_mask": "self_mask", "memory_mask": "cross_mask",
                    "tgt_key_padding_mask": "tgt_key_mask", "memory_key_padding_mask": "memory_key_mask"}


def _reject_torch_masks(kwargs, where):
    """Raise for keyword arguments a seqlib module does not take; PyTorch's mask names get a message
    that says which argument to pass instead, and that its bool masks mean the opposite."""
    for name in kwargs:
        if name in TORCH_MASK_NAMES:
            new = TORCH_MASK_NAMES[name]
            raise TypeError(f"{where} takes {new}, not PyTorch's {name}: seqlib's bool masks are True where "
                            f"attending is allowed (a real key), PyTorch's {name} is True where it is not. "
                            f"Pass {new}=~{name} for a bool mask; a float mask means the same in both")
        raise TypeError(f"{where} got an unexpected keyword argument {name!r}")


def from_torch_masks(**masks) -> dict:
    """PyTorch's mask arguments -> seqlib's: each name changed, each bool mask negated.

    For calling a seqlib module with the masks written for its PyTorch counterpart, as the
    parity tests do: ``ours(x, x, x, **from_torch_masks(key_padding_mask=kpm, attn_mask=am))``
    gives the output of ``theirs(x, x, x, key_padding_mask=kpm, attn_mask=am)``. The names are
    those of ``nn.MultiheadAttention`` and the ``nn.Transformer*`` layers and stacks
    (``key_padding_mask`` -> ``key_mask``, ``attn_mask`` and ``src_mask`` -> ``mask``,
    ``tgt_mask`` -> ``self_mask``, ``memory_mask`` -> ``cross_mask``, ``*_key_padding_mask`` ->
    ``*_key_mask``). A float mask is added to the scores in both, so it is passed unchanged; None
    stays None.
    """
    out = {}
    for name, mask in masks.items():
        if name not in TORCH_MASK_NAMES:
            raise ValueError(f"from_torch_masks takes PyTorch's mask names {sorted(TORCH_MASK_NAMES)}, got {name!r}")
        if mask is not None:
            check_tensor(mask, name)
        out[TORCH_MASK_NAMES[name]] = ~mask if mask is not None and mask.dtype == torch.bool else mask
    return out
