"""The one call every notebook makes first: seeds, threads, device and plotting style.

A chapter's numbers must be the same on every run, so ``setup`` fixes everything that would
otherwise vary: the three random generators (Python, NumPy, PyTorch), the number of CPU
threads (one: results then do not depend on how many cores the machine has, and timings are
comparable), and the device (CPU unless asked otherwise, so that no chapter ever needs a GPU).
(The processor's code path, which also moves the last digits, is pinned from outside the
kernel, by the book's ``kernel.env``; see the README and :data:`PINNED_NUMERICS`.)

Every seed in the book passes through this module: ``seed_everything`` for the global
generators, ``generator`` for a private ``torch.Generator``, ``numpy_rng`` for a NumPy one.
Each adds the same offset, read from the environment variable ``SEQLIB_SEED_OFFSET`` (0 when
unset), so one setting moves every random draw in a chapter at once. The tests execute every
chapter a second time with the offset set: a verdict that holds only for the seeds the book
happens to use fails there.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICES = ("cpu", "cuda", "auto")
SEED_OFFSET_VARIABLE = "SEQLIB_SEED_OFFSET"
MAX_SEED = 2**32 - 1  # NumPy's global generator takes seeds below 2**32
#: The book's pinned CPU numerics as environment variables, the same values as ``kernel.env`` at
#: the repository's root (a test keeps them in step). Set before PyTorch loads, they fix every
#: kernel a chapter uses to one code path that does not depend on the processor's maker, Intel or
#: AMD: PyTorch's own AVX2 kernels, MKL's vendor-neutral COMPATIBLE branch (MKL's AVX2 branch is
#: reproducible on Intel's processors only: elsewhere MKL silently takes its processor-dependent
#: AUTO branch) and oneDNN's AVX2 kernels (on one thread, the same instructions on every AVX2
#: processor).
PINNED_NUMERICS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"}
#: The name stored with every sweep record made under :data:`PINNED_NUMERICS`: a record with
#: another (or none) was made under other numerics and reproduces only approximately.
NUMERICS = "x86-64 AVX2, MKL COMPATIBLE, oneDNN AVX2"


def numerics_pinned() -> bool:
    """Whether this process runs with the pinned numerics (and PyTorch took its AVX2 path)."""
    if any(os.environ.get(k) != v for k, v in PINNED_NUMERICS.items()):
        return False
    return torch.backends.cpu.get_cpu_capability() == "AVX2"


def seed_offset() -> int:
    """The shift added to every seed: ``SEQLIB_SEED_OFFSET`` from the environment, 0 when unset."""
    raw = os.environ.get(SEED_OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_OFFSET_VARIABLE} must be a non-negative integer, got {raw!r}") from None
    if not 0 <= value <= MAX_SEED // 2:
        raise ValueError(f"{SEED_OFFSET_VARIABLE} must be between 0 and {MAX_SEED // 2}, got {value}")
    return value


def shifted(seed: int) -> int:
    """The seed the generators actually receive: ``seed + seed_offset()``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED // 2:
        raise ValueError(f"seed must be a non-negative int below {MAX_SEED // 2 + 1}, got {seed!r}")
    return int(seed) + seed_offset()


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and CUDA)."""
    seed = shifted(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def generator(seed: int) -> torch.Generator:
    """A private ``torch.Generator`` (CPU) seeded with ``seed`` (plus the offset)."""
    return torch.Generator().manual_seed(shifted(seed))


def numpy_rng(seed: int) -> np.random.Generator:
    """A private NumPy ``Generator`` seeded with ``seed`` (plus the offset)."""
    return np.random.default_rng(shifted(seed))


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
