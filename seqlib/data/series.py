"""A real time series that ships inside statsmodels, and windows for forecasting.

``co2``: weekly CO2 concentration at Mauna Loa, 1958-2001 (ppm), averaged here to months;
``sunspots``: yearly sunspot activity, 1700-2008; ``nile``: yearly Nile flow at Aswan, 1871-1970.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .._validate import check_int

SERIES = ("co2", "sunspots", "nile")


def load_series(name: str = "co2") -> pd.Series:
    """One of ``SERIES`` as a pandas Series with a datetime index, without missing values."""
    if name not in SERIES:
        raise ValueError(f"series must be one of {SERIES}, got {name!r}")
    from statsmodels import datasets

    if name == "co2":
        weekly = datasets.co2.load_pandas().data["co2"]
        # Monthly means; the few months with no reading are filled by linear interpolation.
        s = weekly.resample("MS").mean().interpolate()
    elif name == "sunspots":
        d = datasets.sunspots.load_pandas().data
        s = pd.Series(d["SUNACTIVITY"].to_numpy(), index=pd.to_datetime(d["YEAR"].astype(int).astype(str)))
    else:
        d = datasets.nile.load_pandas().data
        s = pd.Series(d["volume"].to_numpy(), index=pd.to_datetime(d["year"].astype(int).astype(str)))
    s.name = name
    return s.astype("float64")


def make_windows(values, context: int, horizon: int = 1):
    """Slide a window over a 1-D series: each ``context`` values predict the next ``horizon``.

    Returns x (N, context) and y (N, horizon) as float32 tensors, N = len - context - horizon + 1.
    """
    v = torch.tensor(np.asarray(values, dtype=np.float32))  # a copy: the caller's data stays untouched
    if v.dim() != 1:
        raise ValueError(f"values must be a 1-D series, got shape {tuple(v.shape)}")
    check_int(context, "context", minimum=1)
    check_int(horizon, "horizon", minimum=1)
    if len(v) < context + horizon:
        raise ValueError(f"a series of {len(v)} values is too short for context {context} + horizon {horizon}")
    w = v.unfold(0, context + horizon, 1)  # (N, context + horizon)
    return w[:, :context].contiguous(), w[:, context:].contiguous()
