"""Graders for the coding exercises: call one with your function and it tells you what is wrong.

Each checker compares your function with a trusted reference (PyTorch's own function where
one exists) on many random and edge cases, and raises an ``AssertionError`` that names the
first case that disagrees. When everything agrees it returns a one-line report.

An answer may be a tensor of any floating dtype (float32 or float64), a NumPy array or a
(nested) Python list of numbers, and a count a Python, NumPy or 0-d tensor integer: each is
compared with the reference as it is, without rounding. A function that raises, or returns
the wrong type or shape, is reported with the case (its inputs) that triggered it.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .data.batch import lengths_to_mask, masked_mean
from .runtime import generator, seed_everything

__all__ = ['check_pad', 'check_masked_mean', 'check_rnn_step', 'check_lstm_step', "check_dot_attention",
           "check_causal_attention", "check_encoder_layer", "check_leave_one_out",
           "check_lstm_params",
           "check_linear_attention", "check_seasonal_naive"]


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


def _cases_1d(seed):
    g = generator(seed)
    cases = [[torch.tensor([5])], [torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])]]
    for _ in range(6):
        b = int(torch.randint(1, 6, (1,), generator=g))
        lengths = torch.randint(1, 9, (b,), generator=g).tolist()
        cases.append([torch.randint(1, 50, (n,), generator=g) for n in lengths])
    return cases


def check_pad(fn, seed: int = 0) -> str:
    """Grade ``fn(sequences) -> (padded (B, T), lengths (B,))`` against ``torch.nn.utils.rnn.pad_sequence``.

    ``fn`` receives a list of 1-D long tensors and must fill the padding with 0.
    """
    cases = _cases_1d(seed)
    for k, seqs in enumerate(cases):
        shapes = [len(s) for s in seqs]
        where = f"case {k} (lengths {shapes}, sequences {[s.tolist() for s in seqs]})"
        out = _call(fn, where, [s.clone() for s in seqs])
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {k} (lengths {shapes}): expected a tuple (padded, lengths), got {type(out).__name__}")
        padded, lengths = out
        want = pad_sequence(seqs, batch_first=True, padding_value=0)
        if isinstance(padded, torch.Tensor) and tuple(padded.shape) != tuple(want.shape):
            raise AssertionError(f"case {k} (lengths {shapes}): padded should have shape {tuple(want.shape)}, "
                                 f"got {tuple(padded.shape)}")
        padded = _as_answer(padded, want.shape, want, where, "padded")
        if not torch.equal(padded.double(), want.double()):  # exactly: 2.4 is not the id 2
            raise AssertionError(f"case {k} (lengths {shapes}): padded values differ from pad_sequence:\n"
                                 f"expected\n{want}\ngot\n{padded}")
        got_lengths = _as_answer(lengths, (len(shapes),), torch.tensor(shapes), where, "lengths")
        if not torch.equal(got_lengths.double(), torch.tensor(shapes, dtype=torch.float64)):
            raise AssertionError(f"case {k}: lengths should be {shapes}, got {lengths}")
    return f"check_pad: all {len(cases)} cases agree with torch.nn.utils.rnn.pad_sequence."


def check_masked_mean(fn, seed: int = 0) -> str:
    """Grade ``fn(x (B, T, D), mask (B, T) bool) -> (B, D)``: the mean over real positions only.

    The padding positions hold large random numbers, so a function that forgets the mask
    (or divides by T instead of each row's length) fails.
    """
    g = generator(seed)
    for k in range(8):
        B, T, D = (int(v) for v in torch.randint(1, 7, (3,), generator=g))
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        mask = lengths_to_mask(lengths, T)
        x = torch.randn(B, T, D, generator=g)
        x = torch.where(mask[..., None], x, 100 * torch.randn(B, T, D, generator=g))  # garbage in the padding
        want = torch.stack([x[b, : lengths[b]].mean(0) for b in range(B)])  # the definition, row by row
        assert torch.allclose(masked_mean(x, mask), want, atol=1e-6)  # the reference agrees with it
        where = f"case {k} (x of shape (B, T, D) = {(B, T, D)}, lengths {lengths.tolist()})"
        got = _call(fn, where, x.clone(), mask.clone())
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (B, D):
            if not isinstance(got, (np.ndarray, list, tuple)) or _shape_of(got) != (B, D):
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
                raise AssertionError(f"case {k}: expected a tensor of shape (B, D) = {(B, D)}, got {shape} "
                                     f"(x of shape {(B, T, D)}, lengths {lengths.tolist()})")
        got = _as_answer(got, (B, D), want, where)
        if not torch.allclose(got, want, atol=1e-5):
            worst = (got - want).abs().max().item()
            raise AssertionError(f"case {k} (lengths {lengths.tolist()}, T={T}): the result differs from the "
                                 f"mean over real positions by up to {worst:.3g}. Did the padding leak in?")
    return "check_masked_mean: all 8 cases agree with the mean over real positions."


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


def check_dot_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(query (B, H), keys (B, S, H), values (B, S, D), mask (B, S) bool) -> (context (B, D), weights (B, S))``.

    Dot-product attention for one query per sequence (Luong's "dot" score, no scaling), masked
    so that padded keys (mask False) get weight 0. The reference is PyTorch's
    ``F.scaled_dot_product_attention`` with ``scale=1``; the weights must sum to 1 over real keys.
    """
    import torch.nn.functional as F

    g = generator(seed)
    for k in range(8):
        B, S, H, D = (int(v) for v in torch.randint(1, 6, (4,), generator=g))
        lengths = torch.randint(1, S + 1, (B,), generator=g)
        mask = lengths_to_mask(lengths, S)  # (B, S)
        query, keys = torch.randn(B, H, generator=g), torch.randn(B, S, H, generator=g)
        values = torch.randn(B, S, D, generator=g)
        values = torch.where(mask[..., None], values, 1e3 * torch.randn(B, S, D, generator=g))  # garbage padding
        want = F.scaled_dot_product_attention(query[:, None, :], keys, values, attn_mask=mask[:, None, :],
                                              scale=1.0)[:, 0]  # (B, D)
        scores = torch.einsum("bh,bsh->bs", query, keys).masked_fill(~mask, float("-inf"))
        want_weights = torch.softmax(scores, dim=-1)  # (B, S)
        where = f"case {k} (B={B}, S={S}, H={H}, D={D}, lengths {lengths.tolist()})"
        out = _call(fn, where, query.clone(), keys.clone(), values.clone(), mask.clone())
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {k}: expected a tuple (context, weights), got {type(out).__name__}")
        context, weights = out
        if _shape_of(weights) != (B, S) or _shape_of(context) != (B, D):
            raise AssertionError(f"case {k}: expected context {(B, D)} and weights {(B, S)}, "
                                 f"got {_shape_of(context)} and {_shape_of(weights)} {where[len(f'case {k} '):]}")
        context = _as_answer(context, (B, D), want, where, "the context")
        weights = _as_answer(weights, (B, S), want_weights, where, "the weights")
        if (weights[~mask].abs() > 1e-6).any():
            raise AssertionError(f"case {k} (lengths {lengths.tolist()}): padded keys got non-zero weight; "
                                 "mask the scores with -inf before the softmax")
        if not torch.allclose(weights, want_weights, atol=1e-5):
            scaled = torch.softmax(scores / H ** 0.5, dim=-1)
            hint = " (did you divide by sqrt(H)? Luong's dot score is not scaled)" if torch.allclose(
                weights, scaled, atol=1e-5) else ""
            raise AssertionError(f"case {k}: the weights differ from softmax(q . k) over real keys{hint}")
        if not torch.allclose(context, want, atol=1e-4):
            raise AssertionError(f"case {k}: the context differs from F.scaled_dot_product_attention's by "
                                 f"{(context - want).abs().max().item():.3g}")
    return "check_dot_attention: all 8 cases agree with F.scaled_dot_product_attention."


def check_causal_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(q (B, T, d), k (B, T, d), v (B, T, d_v)) -> (output (B, T, d_v), weights (B, T, T))``.

    Scaled dot-product self-attention under a causal mask: query t may attend to keys s <= t
    only, scores divided by sqrt(d). The reference is PyTorch's
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``. Common mistakes are named:
    no scaling, the mask's triangle reversed, the diagonal masked too, the softmax taken over
    the wrong dimension.
    """
    import torch.nn.functional as F

    g = generator(seed)
    for case in range(8):
        B, T, d, d_v = (int(n) for n in torch.randint(1, 7, (4,), generator=g))
        T += 1  # at least two positions, so that the future exists
        q, k = torch.randn(B, T, d, generator=g), torch.randn(B, T, d, generator=g)
        v = torch.randn(B, T, d_v, generator=g)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, T, d_v)
        scores = q @ k.transpose(-2, -1)  # (B, T, T), unscaled
        lower = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T): True where s <= t
        want_weights = torch.softmax((scores / d ** 0.5).masked_fill(~lower, float("-inf")), dim=-1)
        where = f"case {case} (B={B}, T={T}, d={d}, d_v={d_v})"
        out = _call(fn, where, q.clone(), k.clone(), v.clone())
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {case}: expected a tuple (output, weights), got {type(out).__name__}")
        output, weights = out
        if _shape_of(output) != (B, T, d_v) or _shape_of(weights) != (B, T, T):
            raise AssertionError(f"case {case}: expected output {(B, T, d_v)} and weights {(B, T, T)}, "
                                 f"got {_shape_of(output)} and {_shape_of(weights)} (T={T}, d={d}, d_v={d_v})")
        output = _as_answer(output, (B, T, d_v), want, where, "the output")
        weights = _as_answer(weights, (B, T, T), want_weights, where, "the weights")
        if not torch.isfinite(weights).all():
            raise AssertionError(f"case {case}: the weights hold NaN or infinity; is a whole row masked? "
                                 "(query t may attend to every s <= t, itself included)")
        if not torch.allclose(weights, want_weights, atol=1e-5):
            raise AssertionError(f"case {case} (T={T}, d={d}): the weights differ from the reference"
                                 f"{_causal_mistake(weights, scores, d, lower)}")
        if not torch.allclose(output, want, atol=1e-5):
            raise AssertionError(f"case {case}: the output differs from F.scaled_dot_product_attention's by "
                                 f"{(output - want).abs().max().item():.3g}; is it weights @ v?")
    return "check_causal_attention: all 8 cases agree with F.scaled_dot_product_attention(is_causal=True)."


def _causal_mistake(weights, scores, d, lower):
    """A hint naming the mistake that explains ``weights``, if one of the usual ones does."""
    def softmax(s, allowed, dim=-1):
        return torch.softmax(s.masked_fill(~allowed, float("-inf")), dim=dim)

    T = lower.shape[0]
    if (weights * ~lower).abs().max() > 1e-6:
        if torch.allclose(weights, softmax(scores / d ** 0.5, lower.T), atol=1e-5):
            return ": the triangle is reversed, so each query looks at the future; keep s <= t (torch.tril)"
        return ": some query gives weight to a later key; mask the scores where s > t before the softmax"
    if torch.allclose(weights, softmax(scores, lower), atol=1e-5):
        return ": the scores are not divided by sqrt(d)"
    if T > 1 and (weights.diagonal(dim1=-2, dim2=-1)[..., 1:].abs() < 1e-6).all():
        return ": the diagonal is masked too; a query may attend to its own position (s <= t)"
    if not torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-5):
        return ": the rows do not sum to 1; take the softmax over the keys (the last dimension)"
    return ""


def _encoder_layer_variants(x, attend, ffn, norm1, norm2):
    """The encoder layer computed the right ways and the usual wrong ways, for naming a learner's mistake."""
    pre_h = x + attend(norm1(x))
    post_h = norm1(x + attend(x))
    normed = norm1(x)  # a residual that carries the normalised x instead of x itself
    normed_h = normed + attend(normed)
    return {
        "pre-norm": pre_h + ffn(norm2(pre_h)),
        "post-norm": norm2(post_h + ffn(post_h)),
        "pre-norm without the residual around the self-attention":
            attend(norm1(x)) + ffn(norm2(attend(norm1(x)))),
        "pre-norm without the residual around the feed-forward network": ffn(norm2(pre_h)),
        "post-norm without the residual around the self-attention": norm2(norm1(attend(x)) + ffn(norm1(attend(x)))),
        "post-norm without the residual around the feed-forward network": norm2(ffn(post_h)),
        "pre-norm with the residual taken after the norm (x = LN(x) + Sublayer(LN(x)))":
            norm2(normed_h) + ffn(norm2(normed_h)),
        "pre-norm with norm1 and norm2 swapped": (x + attend(norm2(x))) + ffn(norm1(x + attend(norm2(x)))),
        "pre-norm with the feed-forward network before the self-attention":
            (x + ffn(norm1(x))) + attend(norm2(x + ffn(norm1(x)))),
        "post-norm with the feed-forward network before the self-attention":
            norm2(norm1(x + ffn(x)) + attend(norm1(x + ffn(x)))),
    }


_ENCODER_LAYER_HINTS = {
    "post-norm": "It matches the post-norm layer, x = LayerNorm(x + Sublayer(x)): with norm_first=True each "
                 "sub-layer reads LayerNorm(x) and its output is added to x, x = x + Sublayer(LayerNorm(x)).",
    "pre-norm": "It matches the pre-norm layer, x = x + Sublayer(LayerNorm(x)): with norm_first=False the sum "
                "comes first and is then normalised, x = LayerNorm(x + Sublayer(x)).",
}


def check_encoder_layer(fn, norm_first: bool = True, seed: int = 0) -> str:
    """Grade ``fn(x, self_attention, feed_forward, norm1, norm2) -> y``, one Transformer encoder layer,
    against ``torch.nn.TransformerEncoderLayer`` (no dropout, evaluation mode) holding the same weights.

    ``x`` is (B, T, d_model); ``self_attention(h)`` returns the layer's multi-head self-attention
    of ``h`` to itself and ``feed_forward(h)`` its position-wise feed-forward network, both
    (B, T, d_model); ``norm1`` and ``norm2`` are its two ``nn.LayerNorm`` modules. The function
    supplies the residual paths and puts the norms in their places::

        pre-norm (norm_first=True):    h = x + self_attention(norm1(x));  y = h + feed_forward(norm2(h))
        post-norm (norm_first=False):  h = norm1(x + self_attention(x));  y = norm2(h + feed_forward(h))

    The cases run in float64, with LayerNorm weights and biases far from 1 and 0 and inputs far
    from zero mean and unit scale, so a norm in the wrong place changes the result. When the
    result matches a common mistake (the other norm placement, a missing residual path, the
    residual taken after the norm, the norms swapped, the sub-layers in the wrong order), the
    error names it.

    Args:
        fn: the learner's layer.
        norm_first: grade a pre-norm (True) or a post-norm (False) layer.
        seed: the seed of the random cases.
    """
    from torch import nn

    g = generator(seed)
    kind = "pre-norm" if norm_first else "post-norm"
    sizes = [(1, 1, 4, 1, 8), (2, 5, 8, 2, 16), (3, 4, 12, 3, 8), (2, 7, 8, 4, 32), (4, 3, 6, 2, 12)]
    for k, (B, T, d_model, nhead, d_ff) in enumerate(sizes):
        with torch.random.fork_rng():  # the layer's initialisation leaves the caller's random state alone
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))  # drawn from g: already shifted
            layer = nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout=0.0, batch_first=True,
                                               norm_first=norm_first).double().eval()
        with torch.no_grad():
            for norm in (layer.norm1, layer.norm2):
                norm.weight.copy_(1 + torch.rand(d_model, generator=g, dtype=torch.float64))  # in (1, 2)
                norm.bias.copy_(torch.randn(d_model, generator=g, dtype=torch.float64))
        x = 2 + 3 * torch.randn(B, T, d_model, generator=g, dtype=torch.float64)  # not normalised

        def attend(h, layer=layer):
            return layer.self_attn(h, h, h, need_weights=False)[0]

        def ffn(h, layer=layer):
            return layer.linear2(layer.activation(layer.linear1(h)))

        with torch.no_grad():
            want = layer(x)  # (B, T, d_model)
            where = f"case {k} (B={B}, T={T}, d_model={d_model}, nhead={nhead}, {kind})"
            got = _call(fn, where, x.clone(), attend, ffn, layer.norm1, layer.norm2)
            variants = _encoder_layer_variants(x, attend, ffn, layer.norm1, layer.norm2)
        assert torch.allclose(variants[kind], want, atol=1e-8)  # the reference formula is PyTorch's layer
        if _shape_of(got) != (B, T, d_model) or not isinstance(got, (torch.Tensor, np.ndarray, list, tuple)):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
            raise AssertionError(f"{where}: expected a tensor of shape (B, T, d_model) = {(B, T, d_model)}, "
                                 f"got {found}")
        got = _as_answer(got, (B, T, d_model), want, where)
        if not torch.allclose(got, want, atol=1e-6):
            worst = (got - want).abs().max().item()
            hint = ""
            for name, value in variants.items():
                if name != kind and torch.allclose(got, value, atol=1e-6):
                    hint = " " + _ENCODER_LAYER_HINTS.get(name, f"It matches the {name}.")
                    break
            raise AssertionError(f"{where}: the output differs from torch.nn.TransformerEncoderLayer("
                                 f"norm_first={norm_first}) by up to {worst:.3g}.{hint}")
    return (f"check_encoder_layer: all {len(sizes)} cases agree with "
            f"torch.nn.TransformerEncoderLayer(norm_first={norm_first}).")


def check_leave_one_out(fn, seed: int = 0) -> str:
    """Grade ``fn(model, x, target) -> (B, T)``: leave-one-out attribution of a classifier.

    Entry [b, s] must be log p(target_b | x_b) - log p(target_b | x_b with token s replaced by
    id 0), for a model that maps token ids (B, T) to logits (B, C). The reference is
    :func:`seqlib.interpret.leave_one_out`; the cases are small random
    :class:`seqlib.interpret.AttentionClassifier` models, with and without an LSTM encoder.
    """
    from .interpret import AttentionClassifier, leave_one_out

    g = generator(seed)
    cases = 0
    for k, encoder in enumerate(("none", "lstm", "none", "lstm")):
        seed_everything(seed + k)
        V, C = 9, 3
        model = AttentionClassifier(V, C, d_model=8, encoder=encoder).eval()
        B, T = int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(2, 8, (1,), generator=g))
        x = torch.randint(1, V, (B, T), generator=g)
        target = torch.randint(0, C, (B,), generator=g)
        want = leave_one_out(model, x, target)
        where = f"case {k} (encoder={encoder!r}, x of shape (B, T) = {(B, T)}: {x.tolist()}, target {target.tolist()})"
        got = _call(fn, where, model, x.clone(), target.clone())
        if _shape_of(got) != (B, T) or not isinstance(got, (torch.Tensor, np.ndarray, list, tuple)):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
            raise AssertionError(f"case {k}: expected a tensor of shape (B, T) = {(B, T)}, one score per token, "
                                 f"got {found}")
        got = _as_answer(got, (B, T), want, where)
        cases += 1
        if torch.allclose(got, want, atol=1e-4):
            continue
        where = f"case {k} (encoder={encoder!r}, B={B}, T={T})"
        if torch.allclose(got, -want, atol=1e-4):
            raise AssertionError(f"{where}: the signs are reversed. Leave-one-out is the log-probability with "
                                 f"the token minus without it, so a token that supports the target scores > 0.")
        with torch.no_grad():
            p = torch.softmax(model(x), -1)[torch.arange(B), target]  # (B,)
            as_probs = torch.stack([p - torch.softmax(model(x.index_put((torch.arange(B), torch.full((B,), s)),
                                                                        torch.tensor(0))), -1)[torch.arange(B), target]
                                    for s in range(T)], 1)  # (B, T)
        if torch.allclose(got, as_probs, atol=1e-4):
            raise AssertionError(f"{where}: these are differences of probabilities; use log-probabilities "
                                 f"(torch.log_softmax).")
        worst = (got - want).abs().max().item()
        raise AssertionError(f"{where}: differs from the leave-one-out attribution by up to {worst:.3g}.\n"
                             f"expected\n{want}\ngot\n{got}")
    return f"check_leave_one_out: all {cases} cases agree with seqlib.interpret.leave_one_out."


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


def check_linear_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(q (B, T, d_k), k (B, T, d_k), v (B, T, d_v)) -> output (B, T, d_v)``: causal linear
    attention computed as a recurrence.

    The reference is :func:`seqlib.linear_attention.linear_attention_parallel` (feature map
    phi(x) = elu(x) + 1, normaliser phi(q_t) . z_t, eps = 1e-6). Common mistakes are named:
    no normaliser, a sum over all positions (not causal), the state read before token t is
    added, no feature map, the normaliser taken with q instead of phi(q).
    """
    from .linear_attention import elu_feature_map, linear_attention_parallel

    g = generator(seed)
    for case in range(6):
        B, T, d_k, d_v = (int(n) for n in torch.randint(1, 6, (4,), generator=g))
        T += 2  # at least three positions, so that the past and the future both exist
        q, k = torch.randn(B, T, d_k, generator=g), torch.randn(B, T, d_k, generator=g)
        v = torch.randn(B, T, d_v, generator=g)
        want = linear_attention_parallel(q, k, v)  # (B, T, d_v)
        where = f"case {case} (B={B}, T={T}, d_k={d_k}, d_v={d_v})"
        out = _call(fn, where, q.clone(), k.clone(), v.clone())
        if not isinstance(out, (torch.Tensor, np.ndarray, list, tuple)):
            raise AssertionError(f"case {case}: expected a tensor (B, T, d_v), got {type(out).__name__} "
                                 f"(B={B}, T={T}, d_k={d_k}, d_v={d_v})")
        if _shape_of(out) != (B, T, d_v):
            raise AssertionError(f"case {case}: expected output of shape {(B, T, d_v)}, got {_shape_of(out)} "
                                 f"(B={B}, T={T}, d_k={d_k}, d_v={d_v})")
        out = _as_answer(out, (B, T, d_v), want, where)
        if not torch.allclose(out, want, atol=1e-5):
            raise AssertionError(f"case {case} (T={T}, d_k={d_k}): the output differs from the reference by "
                                 f"{(out - want).abs().max().item():.3g}"
                                 f"{_linear_attention_mistake(out, q, k, v, elu_feature_map)}")
    return "check_linear_attention: all 6 cases agree with seqlib.linear_attention.linear_attention_parallel."


def _linear_attention_mistake(out, q, k, v, phi):
    """A hint naming the mistake that explains ``out``, if one of the usual ones does."""
    T = q.shape[1]
    lower = torch.ones(T, T).tril()  # (T, T): 1 where s <= t
    strictly = torch.ones(T, T).tril(-1)  # (T, T): 1 where s < t

    def attend(fq, fk, mask, normalize=True, norm_q=None):
        A = (fq @ fk.transpose(-2, -1)) * mask  # (B, T, T)
        o = A @ v
        if normalize:
            Z = ((fq if norm_q is None else norm_q) @ fk.transpose(-2, -1)) * mask
            o = o / (Z.sum(-1, keepdim=True) + 1e-6)
        return o

    variants = [
        (attend(phi(q), phi(k), lower, normalize=False), "no normaliser: divide phi(q_t)^T S_t by phi(q_t) . z_t, "
                                                          "with z_t the running sum of phi(k_s)"),
        (attend(phi(q), phi(k), torch.ones(T, T)), "the sums run over all positions; "
                                                   "a causal model may only add tokens s <= t to the state"),
        (attend(phi(q), phi(k), strictly), "the state is read before token t is added; update S and z first, "
                                           "then read them with q_t"),
        (attend(q, k, lower), "no feature map: apply phi(x) = elu(x) + 1 to the queries and keys"),
        (attend(phi(q), phi(k), lower, norm_q=q), "the normaliser uses q instead of phi(q)"),
    ]
    for candidate, hint in variants:
        if candidate.shape == out.shape and torch.allclose(out, candidate, atol=1e-4):
            return ": " + hint
    return ""


def _seasonal_naive_variants(y, horizon, season):
    """What the common mistakes of a seasonal naive forecaster return, by name."""
    n, h = len(y), torch.arange(horizon)
    out = {"the last value repeated (the naive forecast, season 1)": y[-1].repeat(horizon)}
    if n >= season + 1:
        out["the season one step too early (y[n + h - s - 1])"] = y[n - season - 1 + (h % season)]
    out["the season one step too late (y[n + h - s + 1])"] = y[(n - season + 1 + (h % season)).clamp(max=n - 1)]
    if n >= 2 * season:
        out["the value two seasons back (y[n + h - 2s])"] = y[n - 2 * season + (h % season)]
    out["the mean of the last season, repeated"] = y[n - season:].mean().repeat(horizon)
    far = n - season + h  # no wrap: beyond one season this reads past the history, so clamp it
    out["the season not repeated beyond the first one (it must wrap when horizon > season)"] = y[far.clamp(max=n - 1)]
    return out


def check_seasonal_naive(fn, seed: int = 0) -> str:
    """Grade ``fn(history, horizon, season) -> forecasts (horizon,)`` against
    :func:`seqlib.forecast.seasonal_naive`.

    ``history`` is a 1-D float64 tensor y[0 .. n-1]; the forecast of y[n + h - 1] for
    h = 1 .. horizon is the value one season earlier, y[n + h - 1 - s * ceil(h / s)]. The cases
    include horizons longer than a season and histories of exactly one season; when the result
    matches a common mistake (an off-by-one season, no wrap past the first season, the naive
    forecast) the error names it.
    """
    from .forecast import seasonal_naive

    g = generator(seed)
    sizes = [(24, 12, 12), (30, 5, 12), (40, 30, 12), (7, 7, 7), (10, 9, 4), (50, 3, 1), (37, 25, 6)]
    for k, (n, horizon, season) in enumerate(sizes):
        t = torch.arange(n, dtype=torch.float64)
        y = 0.3 * t + torch.sin(2 * torch.pi * t / season) + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
        want = seasonal_naive(y, horizon, season)
        where = f"case {k} (history of {n} values, horizon={horizon}, season={season})"
        got = _call(fn, where, y.clone(), horizon, season)
        if isinstance(got, (torch.Tensor, np.ndarray, list, tuple)) and _shape_of(got) != (horizon,):
            raise AssertionError(f"{where}: expected {horizon} forecasts, shape ({horizon},), got shape "
                                 f"{_shape_of(got)}")
        got = _as_answer(got, (horizon,), want, where, f"{horizon} forecasts")
        if not torch.allclose(got, want, atol=1e-9):
            hint = ""
            for name, value in _seasonal_naive_variants(y, horizon, season).items():
                if torch.allclose(got, value, atol=1e-9):
                    hint = f" It matches {name}."
                    break
            first = int((got - want).abs().argmax())
            raise AssertionError(f"{where}: forecast {first + 1} steps ahead should be {want[first].item():.4f}, "
                                 f"got {got[first].item():.4f}.{hint}")
    return f"check_seasonal_naive: all {len(sizes)} cases agree with seqlib.forecast.seasonal_naive."
