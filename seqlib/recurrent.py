"""Recurrent networks from scratch: the simple RNN, the LSTM and the GRU.

A cell (:class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`) computes one time step from the
book's equations. A sequence module (:class:`RNN`, :class:`LSTM`, :class:`GRU`) runs its cell
over time, layer after layer and, if asked, in both directions, and respects padding.

They are written by hand to be read and to be verified, not to be fast: ``torch.nn.RNN``,
``nn.LSTM`` and ``nn.GRU`` (and ``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``) do the same
work in fused kernels. The parameters follow PyTorch's names and layout, so ``from_torch``
copies a PyTorch module's weights, and the tests check outputs, final states and gradients.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_shape, check_int, check_lengths, check_sequences, check_tensor, check_probability
from .data.batch import lengths_to_mask

__all__ = ['RNNCell', 'LSTMCell', 'GRUCell', 'RNN', 'LSTM', 'GRU']


# ---------------------------------------------------------------------------------------------
# Cells: one time step
# ---------------------------------------------------------------------------------------------

class _Cell(nn.Module):
    """What the three cells share: the parameters, their initialisation and the input checks.

    ``W_ih`` (G*H, I) and ``W_hh`` (G*H, H) stack the G blocks of H rows that the cell's
    equations use (one per gate), in PyTorch's order; ``b_ih`` and ``b_hh`` (G*H,) likewise.
    """

    gates = 1  # G: how many blocks of H rows W_ih and W_hh stack
    torch_class = nn.RNNCell  # the PyTorch counterpart, for from_torch

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.bias = bool(bias)
        G, H = self.gates, hidden_size
        self.W_ih = nn.Parameter(torch.empty(G * H, input_size))  # (G*H, I)
        self.W_hh = nn.Parameter(torch.empty(G * H, H))  # (G*H, H)
        if bias:
            self.b_ih = nn.Parameter(torch.empty(G * H))  # (G*H,)
            self.b_hh = nn.Parameter(torch.empty(G * H))  # (G*H,)
        else:  # F.linear(x, W, None) then adds nothing
            self.register_parameter("b_ih", None)
            self.register_parameter("b_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, bias={self.bias}"

    def _check_x(self, x_t):
        check_tensor(x_t, "x_t", dims=2, dtype_kind="float")
        if x_t.shape[-1] != self.input_size:
            raise ValueError(f"x_t must have input_size={self.input_size} features in its last dimension, "
                             f"got {x_t.shape[-1]} (x_t has shape {as_shape(x_t)})")
        return x_t

    def _check_state(self, s, name, x_t):
        """``s`` (B, H), or zeros when ``s`` is None."""
        expected = (x_t.shape[0], self.hidden_size)
        if s is None:
            return x_t.new_zeros(expected)  # (B, H)
        check_tensor(s, name, dtype_kind="float")
        if as_shape(s) != expected:
            raise ValueError(f"{name} must have shape (batch, hidden_size) = {expected}, got {as_shape(s)}")
        return s

    def _load(self, module: nn.Module, suffix: str = "") -> None:
        """Copy PyTorch's weight_ih{suffix}, weight_hh{suffix}, bias_ih{suffix}, bias_hh{suffix}."""
        with torch.no_grad():
            self.W_ih.copy_(getattr(module, f"weight_ih{suffix}"))
            self.W_hh.copy_(getattr(module, f"weight_hh{suffix}"))
            if self.bias:
                self.b_ih.copy_(getattr(module, f"bias_ih{suffix}"))
                self.b_hh.copy_(getattr(module, f"bias_hh{suffix}"))

    @classmethod
    def _from_torch(cls, module, **options):
        _expect(module, cls.torch_class, cls.__name__)
        cell = cls(module.input_size, module.hidden_size, bias=module.bias, **options)
        cell = cell.to(device=module.weight_ih.device, dtype=module.weight_ih.dtype)
        cell._load(module)
        return cell.train(module.training)


class RNNCell(_Cell):
    """One step of the simple (Elman) RNN, the counterpart of ``torch.nn.RNNCell``::

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

    Args:
        input_size: I, the number of features of x_t.
        hidden_size: H, the size of the hidden state.
        bias: whether to use the biases b_ih and b_hh.
        nonlinearity: ``"tanh"`` (the default) or ``"relu"``.
    """

    gates = 1
    torch_class = nn.RNNCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, x_t: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """One step.

        Args:
            x_t: the input at step t, (B, I).
            state: the previous hidden state h_{t-1}, (B, H); zeros if None.

        Returns:
            h_t, the new hidden state (B, H).
        """
        x_t = self._check_x(x_t)
        h_prev = self._check_state(state, "state (h)", x_t)
        pre = F.linear(x_t, self.W_ih, self.b_ih) + F.linear(h_prev, self.W_hh, self.b_hh)  # (B, H)
        h_t = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)  # (B, H)
        return h_t

    @classmethod
    def from_torch(cls, module: nn.RNNCell) -> "RNNCell":
        """An :class:`RNNCell` with the configuration and a copy of the weights of ``module``."""
        _expect(module, nn.RNNCell, cls.__name__)  # before reading module.nonlinearity
        return cls._from_torch(module, nonlinearity=module.nonlinearity)


class LSTMCell(_Cell):
    """One step of the LSTM, the counterpart of ``torch.nn.LSTMCell``::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    ``W_ih`` (4H, I) stacks W_ii, W_if, W_ig, W_io in that order (i, f, g, o), as PyTorch does;
    ``W_hh`` (4H, H) and the biases (4H,) likewise.

    Args:
        input_size: I, the number of features of x_t.
        hidden_size: H, the size of the hidden and cell states.
        bias: whether to use the biases b_ih and b_hh.
    """

    gates = 4
    torch_class = nn.LSTMCell

    def forward(self, x_t: torch.Tensor, state: tuple | None = None) -> tuple:
        """One step.

        Args:
            x_t: the input at step t, (B, I).
            state: the pair (h_{t-1}, c_{t-1}), each (B, H); zeros if None.

        Returns:
            the pair (h_t, c_t), each (B, H).
        """
        x_t = self._check_x(x_t)
        h_prev, c_prev = _check_pair(state, "state")
        h_prev = self._check_state(h_prev, "state[0] (h)", x_t)
        c_prev = self._check_state(c_prev, "state[1] (c)", x_t)
        gates = F.linear(x_t, self.W_ih, self.b_ih) + F.linear(h_prev, self.W_hh, self.b_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # 4 x (B, H), in PyTorch's order
        i_t, f_t, g_t, o_t = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_t = f_t * c_prev + i_t * g_t  # (B, H)
        h_t = o_t * torch.tanh(c_t)  # (B, H)
        return h_t, c_t

    @classmethod
    def from_torch(cls, module: nn.LSTMCell) -> "LSTMCell":
        """An :class:`LSTMCell` with the configuration and a copy of the weights of ``module``."""
        return cls._from_torch(module)


class GRUCell(_Cell):
    """One step of the GRU, the counterpart of ``torch.nn.GRUCell``::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)               reset gate
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)               update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))          candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    ``W_ih`` (3H, I) stacks W_ir, W_iz, W_in in that order (r, z, n), as PyTorch does;
    ``W_hh`` (3H, H) and the biases (3H,) likewise. The reset gate multiplies
    ``W_hn h_{t-1} + b_hn`` (PyTorch's and cuDNN's variant), so the two halves of the
    pre-activation are computed separately.

    Args:
        input_size: I, the number of features of x_t.
        hidden_size: H, the size of the hidden state.
        bias: whether to use the biases b_ih and b_hh.
    """

    gates = 3
    torch_class = nn.GRUCell

    def forward(self, x_t: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """One step.

        Args:
            x_t: the input at step t, (B, I).
            state: the previous hidden state h_{t-1}, (B, H); zeros if None.

        Returns:
            h_t, the new hidden state (B, H).
        """
        x_t = self._check_x(x_t)
        h_prev = self._check_state(state, "state (h)", x_t)
        x_r, x_z, x_n = F.linear(x_t, self.W_ih, self.b_ih).chunk(3, dim=1)  # 3 x (B, H)
        h_r, h_z, h_n = F.linear(h_prev, self.W_hh, self.b_hh).chunk(3, dim=1)  # 3 x (B, H)
        r_t = torch.sigmoid(x_r + h_r)
        z_t = torch.sigmoid(x_z + h_z)
        n_t = torch.tanh(x_n + r_t * h_n)
        h_t = (1 - z_t) * n_t + z_t * h_prev  # (B, H)
        return h_t

    @classmethod
    def from_torch(cls, module: nn.GRUCell) -> "GRUCell":
        """A :class:`GRUCell` with the configuration and a copy of the weights of ``module``."""
        return cls._from_torch(module)


# ---------------------------------------------------------------------------------------------
# Sequence modules: the cell run over time, layers and directions
# ---------------------------------------------------------------------------------------------

class _Recurrent(nn.Module):
    """The loop shared by RNN, LSTM and GRU; they differ only in their cell (and the LSTM's state).

    ``self.cells[layer * D + direction]`` is the cell of one layer and direction, the same
    index as the final state ``h_n``. Layer 0 reads x (I features); every later layer reads
    the previous layer's output (D*H features: both directions side by side).
    """

    Cell = RNNCell  # the cell that makes one step
    torch_class = nn.RNN  # the PyTorch counterpart, for from_torch

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False, **cell_options):
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        check_probability(dropout, "dropout")
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        self.num_directions = D = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            self.Cell(input_size if layer == 0 else D * hidden_size, hidden_size, bias=bias, **cell_options)
            for layer in range(num_layers) for direction in range(D))

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, batch_first={self.batch_first}, dropout={self.dropout}")

    def forward(self, x: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        """x (B, T, I) or (T, B, I) -> (output, final state); the shapes are in :class:`RNN`'s docstring."""
        x = self._check_input(x)
        if not self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I) -> (B, T, I)
        B, T, _ = x.shape
        padded = lengths is not None  # without lengths no step is padding (and nothing asks the values)
        lengths = self._check_lengths(lengths, B, T, x.device)
        mask = lengths_to_mask(lengths, T)  # (B, T): True at real steps
        initial = self._split_state(state, B, x)  # one initial state per (layer, direction)
        D = self.num_directions
        finals = []  # the final state of every (layer, direction), in h_n's order
        layer_input = x  # (B, T, I) for layer 0, (B, T, D*H) after
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:  # between layers, as PyTorch does
                layer_input = F.dropout(layer_input, p=self.dropout, training=True)
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                output, final = self._run(self.cells[k], layer_input, mask, initial[k], reverse=direction == 1,
                                          padded=padded)
                outputs.append(output)
                finals.append(final)
            layer_input = torch.cat(outputs, dim=-1)  # (B, T, D*H)
        output = layer_input if self.batch_first else layer_input.transpose(0, 1)  # (B, T, D*H) or (T, B, D*H)
        return output, self._stack_states(finals)

    @staticmethod
    def _run(cell, x, mask, state, reverse, padded=True):
        """Run ``cell`` over x (B, T, F), forwards or backwards in time -> outputs (B, T, H), final state.

        At a padded step (``mask`` False) a sequence keeps its state and outputs 0. Going forwards,
        its state then stays at its last real step; going backwards, the padding comes first, so
        the state is still the initial one when the sequence's last real element arrives.
        ``padded`` False promises that ``mask`` is all True (no lengths were given), which skips
        replacing padded inputs; with True the result is the same, bit for bit, on a full batch.
        """
        T = x.shape[1]
        outputs = [None] * T
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        for t in (reversed(range(T)) if reverse else range(T)):
            keep = mask[:, t, None]  # (B, 1)
            # A padded step's input is replaced by zeros before the cell sees it: its new state is
            # thrown away, but an inf or NaN there would still reach every weight's gradient.
            x_t = torch.where(keep, x[:, t], zero) if padded else x[:, t]  # (B, F)
            state = _where(keep, cell(x_t, state), state)  # the new state, or the old one at padding
            h_t = state[0] if isinstance(state, tuple) else state  # (B, H)
            outputs[t] = h_t * keep  # (B, H), 0 at padding
        return torch.stack(outputs, dim=1), state  # (B, T, H)

    def _check_input(self, x):
        """As ``torch.nn.RNN``, ``nn.LSTM`` and ``nn.GRU``: a batch of 0 sequences gives empty outputs and
        states, a sequence of 0 steps is an error (it has no final state)."""
        B, T = check_sequences(x, "x", self.input_size, "input_size", self.batch_first)
        if T == 0:
            layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
            raise ValueError(f"x must have at least one time step (T >= 1), as torch.nn.{self.torch_class.__name__} "
                             f"requires; got T=0 in x of shape {as_shape(x)} {layout}")
        return x

    @staticmethod
    def _check_lengths(lengths, B, T, device):
        """lengths (B,) as a long tensor on ``device``; every sequence has T steps when it is None."""
        if lengths is None:
            return torch.full((B,), T, dtype=torch.long, device=device)
        lengths = check_lengths(lengths, B, T, device=device)  # a list becomes a tensor on device
        return lengths.to(dtype=torch.long)

    def _check_state_tensor(self, s, name, B, x):
        """One (L*D, B, H) state tensor, or zeros when ``s`` is None."""
        expected = (self.num_layers * self.num_directions, B, self.hidden_size)
        if s is None:
            return x.new_zeros(expected)  # (L*D, B, H)
        check_tensor(s, name, dtype_kind="float")
        if as_shape(s) != expected:
            raise ValueError(f"{name} must have shape (num_layers * num_directions, batch, hidden_size) = "
                             f"{expected}, got {as_shape(s)}")
        return s

    def _split_state(self, state, B, x):
        """h_0 (L*D, B, H) or None -> a list of L*D initial states (B, H), one per cell."""
        return list(self._check_state_tensor(state, "state (h_0)", B, x))

    def _stack_states(self, finals):
        """The cells' final states -> h_n (L*D, B, H)."""
        return torch.stack(finals)  # (L*D, B, H)

    @classmethod
    def _from_torch(cls, module, **options):
        _expect(module, cls.torch_class, cls.__name__)
        if getattr(module, "proj_size", 0) > 0:
            raise ValueError(f"{cls.__name__}.from_torch does not support an LSTM with projections, "
                             f"got proj_size={module.proj_size} (expected 0)")
        ours = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, dropout=module.dropout, bidirectional=module.bidirectional,
                   **options)
        ours = ours.to(device=module.weight_ih_l0.device, dtype=module.weight_ih_l0.dtype)
        D = ours.num_directions
        for layer in range(ours.num_layers):
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                ours.cells[layer * D + direction]._load(module, suffix)
        return ours.train(module.training)


class RNN(_Recurrent):
    """A multi-layer, optionally bidirectional simple RNN, the counterpart of ``torch.nn.RNN``.

    The arguments mirror ``nn.RNN``'s, except that ``batch_first`` defaults to True (the book
    stores batches as (B, T, ...)).

    Args:
        input_size: I, the number of features of each step of x.
        hidden_size: H, the size of the hidden state.
        num_layers: how many RNNs are stacked; each later layer reads the previous one's output.
        nonlinearity: ``"tanh"`` (the default) or ``"relu"``.
        bias: whether the cells use biases.
        batch_first: x and output are (B, T, ...) if True, (T, B, ...) if False.
        dropout: the probability of dropping an output of each layer but the last (training only).
        bidirectional: whether a second RNN per layer reads the sequence backwards.

    Calling ``rnn(x, state=None, lengths=None)`` returns ``(output, h_n)``:

    - x is (B, T, I), or (T, B, I) when ``batch_first`` is False. As in PyTorch, B = 0 gives
      empty outputs and states, and T = 0 raises a ValueError (no step, no final state);
    - ``state`` is the initial hidden state h_0 (num_layers * D, B, H), zeros if None;
      D is 2 if bidirectional, else 1, and row ``layer * D + direction`` belongs to one layer
      and direction (direction 1 reads backwards);
    - ``lengths`` (B,) are the real lengths of a padded batch, as for
      ``pack_padded_sequence(..., enforce_sorted=False)``: outputs at padded steps are 0, the
      final state of each sequence is its state at its last real step, and the backward
      direction starts at each sequence's last real element;
    - ``output`` is the last layer's hidden state at every step, (B, T, D*H) (or (T, B, D*H)),
      the two directions side by side;
    - ``h_n`` (num_layers * D, B, H) is every layer's and direction's final state.
    """

    Cell = RNNCell
    torch_class = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity

    @classmethod
    def from_torch(cls, module: nn.RNN) -> "RNN":
        """An :class:`RNN` with the configuration (``batch_first`` included) and a copy of the weights of
        ``module``, in the same training or evaluation mode."""
        _expect(module, nn.RNN, cls.__name__)  # before reading module.nonlinearity
        return cls._from_torch(module, nonlinearity=module.nonlinearity)


class LSTM(_Recurrent):
    """A multi-layer, optionally bidirectional LSTM, the counterpart of ``torch.nn.LSTM``.

    The arguments, inputs and shapes are those of :class:`seqlib.recurrent.RNN` (without
    ``nonlinearity``), except that the state is a pair: calling
    ``lstm(x, state=None, lengths=None)`` returns ``(output, (h_n, c_n))``, and ``state``,
    when given, is the pair ``(h_0, c_0)``, each (num_layers * D, B, H). Projections
    (``nn.LSTM``'s ``proj_size``) are not supported.
    """

    Cell = LSTMCell
    torch_class = nn.LSTM

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    def _split_state(self, state, B, x):
        """(h_0, c_0), each (L*D, B, H), or None -> a list of L*D initial pairs (h, c), one per cell."""
        h_0, c_0 = _check_pair(state, "state")
        h_0 = self._check_state_tensor(h_0, "state[0] (h_0)", B, x)
        c_0 = self._check_state_tensor(c_0, "state[1] (c_0)", B, x)
        return list(zip(h_0, c_0))

    def _stack_states(self, finals):
        """The cells' final pairs (h, c) -> (h_n, c_n), each (L*D, B, H)."""
        h_n = torch.stack([h for h, c in finals])  # (L*D, B, H)
        c_n = torch.stack([c for h, c in finals])  # (L*D, B, H)
        return h_n, c_n

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "LSTM":
        """An :class:`LSTM` with the configuration (``batch_first`` included) and a copy of the weights of
        ``module``, in the same training or evaluation mode. Raises ValueError if ``proj_size > 0``."""
        return cls._from_torch(module)


class GRU(_Recurrent):
    """A multi-layer, optionally bidirectional GRU, the counterpart of ``torch.nn.GRU``.

    The arguments, inputs and shapes are those of :class:`seqlib.recurrent.RNN` (without
    ``nonlinearity``): calling ``gru(x, state=None, lengths=None)`` returns ``(output, h_n)``.
    """

    Cell = GRUCell
    torch_class = nn.GRU

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)

    @classmethod
    def from_torch(cls, module: nn.GRU) -> "GRU":
        """A :class:`GRU` with the configuration (``batch_first`` included) and a copy of the weights of
        ``module``, in the same training or evaluation mode."""
        return cls._from_torch(module)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def _where(keep, new, old):
    """``new`` where ``keep`` (B, 1) is True, else ``old``; for a state tensor or an (h, c) pair."""
    if isinstance(new, tuple):
        return tuple(torch.where(keep, n, o) for n, o in zip(new, old))
    return torch.where(keep, new, old)


def _check_pair(state, name):
    """An LSTM state: None -> (None, None); otherwise it must be a pair (h, c)."""
    if state is None:
        return None, None
    if not (isinstance(state, (tuple, list)) and len(state) == 2):
        got = f"a {type(state).__name__} of {len(state)}" if isinstance(state, (tuple, list)) \
            else type(state).__name__
        raise TypeError(f"{name} of an LSTM must be a pair (h, c), got {got}")
    return state


def _expect(module, torch_class, ours):
    if not isinstance(module, torch_class):
        raise TypeError(f"{ours}.from_torch expects a torch.nn.{torch_class.__name__}, "
                        f"got {type(module).__module__}.{type(module).__name__}")
