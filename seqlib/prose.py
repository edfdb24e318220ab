"""``glue``: hand a computed value to the book's prose, so no number is ever typed by hand.

In the book's build environment this is myst-nb's own ``glue``. In Colab, where myst-nb is
not installed, the fallback emits the very same display data (an IPython mime bundle whose
metadata names the value, the "scrapbook" protocol myst-nb reads), so a notebook behaves the
same everywhere and seqlib does not have to pull Sphinx into Colab.
"""
from __future__ import annotations

from typing import Any

GLUE_PREFIX = "application/papermill.record/"


def ipy_display(*args, **kwargs):
    from IPython.display import display  # IPython is there whenever a notebook runs

    display(*args, **kwargs)


def _fallback_glue(name: str, variable: Any, display: bool = True) -> None:
    from IPython.core.formatters import format_display_data

    mimebundle, metadata = format_display_data(variable)
    mime_prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=mime_prefix)
    ipy_display({mime_prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)


def glue(name: str, variable: Any, display: bool = False) -> None:
    """Store ``variable`` under ``name`` for the prose (``{glue:text}`name```), hidden by default.

    Round floats before gluing them: the stored text is what nbval compares. NumPy and
    PyTorch scalars are stored as plain Python numbers (``0.5``, not ``np.float64(0.5)``), so
    that the prose can format them (``{glue:text}`name:.0%```).
    """
    if hasattr(variable, "item") and getattr(variable, "ndim", None) == 0:
        variable = variable.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = _fallback_glue
    myst_glue(name, variable, display=display)


def bound(value: float, limit: float) -> str:
    """A rounding-level difference shown as the bound it stays under: ``bound(3e-08, 1e-5) -> "1e-5"``.

    The last digits of a float32 rounding error depend on the processor's code path, so a
    printed or glued ``3.0e-08`` would differ from machine to machine; that it lies below
    ``limit`` does not. Print and glue the bound (``f"within {bound(gap, 1e-5)}"``), never the
    digits. Raises ``AssertionError`` when ``value`` is not below ``limit``, so the text stays true.
    """
    value, limit = float(value), float(limit)
    if not limit > 0:
        raise ValueError(f"limit must be a positive number, got {limit}")
    if not abs(value) < limit:  # also catches NaN
        raise AssertionError(f"the difference {value:.2e} is not below {limit:g}")
    mantissa, exponent = f"{limit:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"
