"""Graders for the coding exercises: call one with your function and it tells you what is wrong.

Each checker compares your function with a trusted reference (PyTorch's own function where
one exists) on many random and edge cases, and raises an ``AssertionError`` that names the
first case that disagrees. When everything agrees it returns a one-line report.

An answer may be a tensor of any floating dtype (float32 or float64), a NumPy array or a
(nested) Python list of numbers, and a count a Python, NumPy or 0-d tensor integer: each is
compared with the reference as it is, without rounding. A function that raises, or returns
the wrong type or shape, is reported with the case (its inputs) that triggered it.
"""

# The package's files, a file per part of the book: data.py (padding, the masked mean, the
# seasonal naive forecast), recurrent.py (RNN and LSTM steps, LSTM parameters), attention.py
# (attention, an encoder layer, leave-one-out, linear attention); _common.py is what they share.
from .attention import (check_causal_attention, check_dot_attention, check_encoder_layer, check_leave_one_out,
                        check_linear_attention)
from .data import check_masked_mean, check_pad, check_seasonal_naive
from .recurrent import check_lstm_params, check_lstm_step, check_rnn_step

__all__ = ['check_pad', 'check_masked_mean', 'check_rnn_step', 'check_lstm_step', "check_dot_attention",
           "check_causal_attention", "check_encoder_layer", "check_leave_one_out",
           "check_lstm_params",
           "check_linear_attention", "check_seasonal_naive"]

