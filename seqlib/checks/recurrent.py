"""Graders for the recurrent exercises: an RNN step, an LSTM step, and an LSTM's parameter count."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ..runtime import generator
from ._common import _as_answer, _as_count, _call, _shape_of


def _step_cases(seed, gates):
    """Random (B, I, H) cases for a recurrent step: inputs, previous states and PyTorch-layout weights.

    I differs from H in most cases, so a transposed weight fails loudly rather than silently.
    """
    g = generator(seed)
    sizes = [(1, 1, 1), (2, 3, 4), (4, 5, 3)]
    sizes += [tuple(int(v) for v in torch.randint(1, 7, (3,), generator=g)) for _ in range(5)]
    for B, I, H in sizes:
        yield (B, I, H), dict(x_t=torch.randn(B, I, generator=g), h_prev=torch.randn(B, H, generator=g),
                              c_prev=torch.randn(B, H, generator=g),
                              W_ih=torch.randn(gates * H, I, generator=g) / I ** 0.5,
                              W_hh=torch.randn(gates * H, H, generator=g) / H ** 0.5,
                              b_ih=torch.randn(gates * H, generator=g), b_hh=torch.randn(gates * H, generator=g))



def _torch_cell(cell_class, case):
    """A PyTorch cell (nn.RNNCell or nn.LSTMCell) holding the case's weights."""
    cell = cell_class(case["W_ih"].shape[1], case["W_hh"].shape[1])
    with torch.no_grad():
        for ours, theirs in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            getattr(cell, theirs).copy_(case[ours])
    return cell



def _check_tensor_result(got, shape, where, reference):
    """``got`` as a tensor of ``reference``'s dtype, after checking it is one of shape (B, H)."""
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != shape:
        if not isinstance(got, (np.ndarray, list, tuple)) or _shape_of(got) != shape:
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise AssertionError(f"{where}: expected a tensor of shape (B, H) = {shape}, got {found}")
    return _as_answer(got, shape, reference, where)



def check_rnn_step(fn, seed: int = 0) -> str:
    """Grade ``fn(x_t, h_prev, W_ih, W_hh, b_ih, b_hh) -> h_t`` against ``torch.nn.RNNCell`` (tanh).

    The step is ``h_t = tanh(x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh)`` with x_t (B, I),
    h_prev (B, H), W_ih (H, I), W_hh (H, H), b_ih and b_hh (H,).
    """
    n = 0
    for n, ((B, I, H), case) in enumerate(_step_cases(seed, gates=1), start=1):
        args = [case[k] for k in ("x_t", "h_prev", "W_ih", "W_hh", "b_ih", "b_hh")]
        with torch.no_grad():
            want = _torch_cell(torch.nn.RNNCell, case)(case["x_t"], case["h_prev"])
        where = f"case {n - 1} (B={B}, I={I}, H={H})"
        got = _call(fn, where, *[a.clone() for a in args])
        got = _check_tensor_result(got, (B, H), where, want)
        if not torch.allclose(got, want, atol=1e-5):
            worst = (got - want).abs().max().item()
            x_t, h_prev, W_ih, W_hh, b_ih, b_hh = args
            hint = ""
            if torch.allclose(got, torch.tanh(x_t @ W_ih.T + h_prev @ W_hh.T), atol=1e-5):
                hint = " It matches the step without the biases b_ih and b_hh."
            elif any(torch.allclose(got, torch.tanh(x_t @ W_ih.T + h_prev @ W_hh.T + b), atol=1e-5)
                     for b in (b_ih, b_hh)):
                hint = " It matches the step with only one of the biases: PyTorch adds both b_ih and b_hh."
            elif torch.allclose(got, x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, atol=1e-5):
                hint = " It matches the step without the tanh."
            raise AssertionError(f"{where}: h_t differs from torch.nn.RNNCell by up to {worst:.3g}.{hint}")
    return f"check_rnn_step: all {n} cases agree with torch.nn.RNNCell."



def _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, order="ifgo", h_tanh=True):
    """The LSTM step with the four stacked blocks read in ``order`` (PyTorch's is "ifgo")."""
    blocks = dict(zip(order, (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).chunk(4, dim=1)))  # 4 x (B, H)
    i_t, f_t, o_t = (torch.sigmoid(blocks[k]) for k in "ifo")
    g_t = torch.tanh(blocks["g"])
    c_t = f_t * c_prev + i_t * g_t
    return o_t * (torch.tanh(c_t) if h_tanh else c_t), c_t



def _lstm_mistake(got, args):
    """A hint naming the common mistake that ``got`` (h_t, c_t) matches, or ''."""
    def same(pair):
        return all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, pair))

    for order in ("".join(p) for p in itertools.permutations("ifgo")):
        if order != "ifgo" and same(_lstm_step(*args, order=order)):
            return (f" It matches the gates read in the order {', '.join(order)}: PyTorch stacks them as i, f, g, o "
                    "(rows 0:H of W_ih are the input gate, H:2H the forget gate, 2H:3H the candidate, 3H:4H the "
                    "output gate).")
    h_t, c_t = _lstm_step(*args)
    if same((c_t, h_t)):
        return " It matches (c_t, h_t): return the pair in the order (h_t, c_t)."
    if same(_lstm_step(*args, h_tanh=False)):
        return " It matches h_t = o_t * c_t: the output is o_t * tanh(c_t)."
    if same(_lstm_step(*args[:5], torch.zeros_like(args[5]), args[6])):
        return " It matches the step without b_ih: PyTorch adds both biases."
    if same(_lstm_step(*args[:6], torch.zeros_like(args[6]))):
        return " It matches the step without b_hh: PyTorch adds both biases."
    return ""



def check_lstm_step(fn, seed: int = 0) -> str:
    """Grade ``fn(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh) -> (h_t, c_t)`` against ``torch.nn.LSTMCell``.

    The weights use PyTorch's stacked layout: W_ih (4H, I), W_hh (4H, H), b_ih and b_hh (4H,)
    hold the input gate, forget gate, candidate and output gate in that order (i, f, g, o).
    When the result matches a common mistake (gates in another order, (c_t, h_t) returned
    in the wrong order, a missing tanh or bias), the error says so.
    """
    n = 0
    for n, ((B, I, H), case) in enumerate(_step_cases(seed, gates=4), start=1):
        args = [case[k] for k in ("x_t", "h_prev", "c_prev", "W_ih", "W_hh", "b_ih", "b_hh")]
        with torch.no_grad():
            want = _torch_cell(torch.nn.LSTMCell, case)(case["x_t"], (case["h_prev"], case["c_prev"]))
        where = f"case {n - 1} (B={B}, I={I}, H={H})"
        got = _call(fn, where, *[a.clone() for a in args])
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise AssertionError(f"{where}: expected a pair (h_t, c_t), got {type(got).__name__}")
        got = tuple(_check_tensor_result(tensor, (B, H), f"{where}, {name}", reference)
                    for name, tensor, reference in zip(("h_t", "c_t"), got, want))
        for name, tensor, reference in zip(("h_t", "c_t"), got, want):
            if not torch.allclose(tensor, reference, atol=1e-5):
                worst = (tensor - reference).abs().max().item()
                raise AssertionError(f"{where}: {name} differs from torch.nn.LSTMCell by up to {worst:.3g}."
                                     f"{_lstm_mistake(tuple(got), args)}")
    return f"check_lstm_step: all {n} cases agree with torch.nn.LSTMCell."



def _lstm_count(I, H, L):
    """The parameters of nn.LSTM(I, H, num_layers=L): W_ih, W_hh and two biases, four gates, per layer."""
    return 4 * (H * I + H * H) + 8 * H + (L - 1) * (4 * (H * H + H * H) + 8 * H)



def _lstm_params_mistake(got, I, H, L):
    """Name the usual slip in counting an LSTM's parameters, if ``got`` matches one."""
    later = L - 1
    slips = {
        "one bias per gate instead of two (PyTorch keeps b_ih and b_hh)":
            4 * (H * I + H * H) + 4 * H + later * (4 * (2 * H * H) + 4 * H),
        "no biases": 4 * (H * I + H * H) + later * 4 * (2 * H * H),
        "three gate blocks instead of four (the candidate g_t has its own weights)":
            3 * (H * I + H * H) + 6 * H + later * (3 * (2 * H * H) + 6 * H),
        "every layer reading input_size features (layers above the first read the H features below)":
            L * (4 * (H * I + H * H) + 8 * H),
        "one layer only (num_layers ignored)": 4 * (H * I + H * H) + 8 * H,
        "no recurrent matrix W_hh": 4 * H * I + 8 * H + later * (4 * H * H + 8 * H),
        "input_size and hidden_size swapped (W_ih is (4H, I), W_hh (4H, H))": _lstm_count(H, I, L),
        "input_size used for hidden_size (the state has hidden_size numbers, whatever the input's width)":
            _lstm_count(I, I, L),
    }
    for what, value in slips.items():
        if got == value:
            return what
    return None



def check_lstm_params(fn, seed: int = 0) -> str:
    """Grade ``fn(input_size, hidden_size, num_layers) -> int``, an LSTM's parameter count by formula.

    The reference is the count of ``torch.nn.LSTM(input_size, hidden_size, num_layers)``'s
    parameters, on a dozen sizes (one layer and several, input narrower and wider than the
    state). A wrong answer that matches a usual slip (one bias per gate, three gate blocks,
    every layer reading the input, input_size and hidden_size confused) is named; the first
    case, (5, 3, 2), tells them all apart.
    """
    g = generator(seed)
    # the first case tells the usual slips apart: each gives a different count there
    cases = [(5, 3, 2), (1, 1, 1), (3, 5, 1), (16, 16, 3)]
    for _ in range(8):
        I, H, L = (int(v) for v in (torch.randint(1, 40, (1,), generator=g), torch.randint(1, 40, (1,), generator=g),
                                     torch.randint(1, 4, (1,), generator=g)))
        cases.append((I, H, L))
    for I, H, L in cases:
        want = sum(p.numel() for p in torch.nn.LSTM(I, H, num_layers=L).parameters())
        where = f"input_size={I}, hidden_size={H}, num_layers={L}"
        got = _as_count(_call(fn, where, I, H, L), where)
        if got != want:
            slip = _lstm_params_mistake(got, I, H, L)
            hint = f" It looks like {slip}." if slip else ""
            raise AssertionError(f"input_size={I}, hidden_size={H}, num_layers={L}: nn.LSTM has {want} parameters, "
                                 f"your function says {got}.{hint}")
    return f"check_lstm_params: all {len(cases)} sizes agree with the parameters of torch.nn.LSTM."

