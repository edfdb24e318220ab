"""What every grader shares: calling the student's function, and reading its answer as a tensor or a count."""
from __future__ import annotations

import numbers

import numpy as np
import torch



def _call(fn, where, *args):
    """``fn(*args)``, or an AssertionError naming the case if it raises (its traceback follows)."""
    try:
        return fn(*args)
    except Exception as error:
        raise AssertionError(f"{where}: your function raised {type(error).__name__}: {error}") from error



def _shape_of(got):
    """The shape of a tensor, array or list, or its type's name."""
    try:
        return tuple(np.shape(got)) if isinstance(got, (torch.Tensor, np.ndarray, list, tuple)) else type(got).__name__
    except Exception:  # a ragged list, or a list of tensors that require gradients
        return type(got).__name__



def _describe(got) -> str:
    if isinstance(got, (torch.Tensor, np.ndarray)):
        return f"a {type(got).__name__} of shape {tuple(got.shape)} and dtype {got.dtype}"
    return f"{type(got).__name__} {got!r}" if isinstance(got, (numbers.Number, str)) or got is None \
        else type(got).__name__



def _as_answer(got, shape, reference, where, what="the result"):
    """The learner's ``got`` as a tensor of ``shape`` to compare with ``reference`` (a tensor).

    A tensor, a NumPy array or a (nested) list of numbers is accepted. A float reference
    takes any real answer in its own dtype (so float64 answers compare with float32
    references); an integer reference keeps the answer's values as they are, for an exact
    comparison. Anything else raises an AssertionError naming the case ``where``.
    """
    shape = tuple(shape)
    if isinstance(got, torch.Tensor):
        answer = got.detach()
    elif isinstance(got, (np.ndarray, list, tuple)):
        try:
            array = np.asarray(got)
        except Exception:  # a ragged list, or a list of tensors that require gradients
            array = None
        if array is None or array.dtype.kind not in "biuf":
            raise AssertionError(f"{where}: expected {what} as a tensor of shape {shape}, got {_describe(got)}")
        answer = torch.from_numpy(array.copy())
    else:
        raise AssertionError(f"{where}: expected {what} as a tensor of shape {shape}, got {_describe(got)}")
    if answer.is_complex() or answer.dtype == torch.bool:
        raise AssertionError(f"{where}: expected {what} as real numbers of shape {shape}, got {_describe(got)}")
    if tuple(answer.shape) != shape:
        raise AssertionError(f"{where}: expected {what} of shape {shape}, got {_describe(got)}")
    answer = answer.to(reference.device)
    return answer.to(reference.dtype) if reference.is_floating_point() else answer



def _as_count(got, where):
    """The learner's count as a Python int: an int, a NumPy integer, a whole float or a one-element
    tensor or array of one; anything else raises an AssertionError naming the case."""
    value = got
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    elif isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise AssertionError(f"{where}: expected an int, got {_describe(got)}")
    return int(value)

