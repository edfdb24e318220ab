"""The one call every notebook makes first: seeds, threads, device and plotting style.

A chapter's numbers must be the same on every run and on every machine of the same kind,
so ``setup`` fixes everything that would otherwise vary: the three random generators
(Python, NumPy, PyTorch), the number of CPU threads (one: results then do not depend on
how many cores the machine has, and timings are comparable), and the device (CPU unless
asked otherwise, so that no chapter ever needs a GPU).
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICES = ("cpu", "cuda", "auto")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and CUDA)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def choose_device(device: str = "cpu") -> torch.device:
    """Return the device to compute on: ``"cpu"`` (the book's default), ``"cuda"``, or ``"auto"``.

    ``"auto"`` picks CUDA when a GPU is present and the CPU otherwise; ``"cuda"`` without a
    GPU is an error rather than a silent fallback.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but torch.cuda.is_available() is False; "
                         "use device='cpu' or device='auto'")
    return torch.device(device)


def setup(seed: int = 0, threads: int = 1, device: str = "cpu", style: bool = True) -> torch.device:
    """Make a notebook reproducible; call it in every chapter before anything random.

    Args:
        seed: seed for Python, NumPy and PyTorch.
        threads: CPU threads PyTorch may use (1 makes results and timings machine-independent).
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
        style: apply the book's plotting style (seaborn theme, figure size, resolution).

    Returns:
        The ``torch.device`` to put models and tensors on.
    """
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    seed_everything(seed)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # for any subprocess a notebook starts
    if style:
        from .viz import set_style
        set_style()
    return choose_device(device)
