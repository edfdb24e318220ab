"""seqlib: the helper library of *Sequence Models on Trial*.

Every chapter starts with ``seqlib.setup()`` and then imports what it needs:

    seqlib.setup(seed=0)            seeds, one CPU thread, plotting style -> torch.device
    seqlib.glue(name, value)        hand a computed number to the prose (myst-nb's glue)
    seqlib.data                     the book's tasks, vocabularies, padding and masks, corpus, series
    seqlib.train                    fit / evaluate / History: a short, readable training loop
    seqlib.viz                      seaborn-based curves, heatmaps and task drawings
    seqlib.checks                   graders for the coding exercises

Later chapters add the models (recurrent, attention, Transformer, state space) as modules
of their own, each checked against its PyTorch counterpart in ``tests/``.
"""
from . import checks, data, train, viz
from .prose import glue
from .runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "glue", "data", "train", "viz", "checks", "__version__"]
