"""The book's figures: one style, and helpers for curves, heatmaps and token sequences.

Built on seaborn (the field's convention for statistical plots); each helper draws on an
``ax`` if one is given, so chapters can compose figures, and returns the ``ax``.
``step_explorer`` turns a list of figures into a slider, and ``attention_explorer`` shows where
each query of a trained model looks, by layer and head; both stay interactive in the
published (kernel-less) HTML.
"""
from __future__ import annotations

import functools
import html
import io

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

__all__ = ['set_style', 'plot_history', 'plot_curves', 'label_log_axis', 'legend_outside', 'heatmap', 'draw_tokens',
           'step_explorer', 'attention_explorer']


def set_style() -> None:
    """The book's look: seaborn's white grid, colour-blind palette, compact figures."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", rc={
        "figure.figsize": (6.4, 3.6), "figure.dpi": 96, "savefig.dpi": 96,
        "axes.spines.top": False, "axes.spines.right": False, "axes.titleweight": "bold",
    })


def _ax(ax):
    return ax if ax is not None else plt.subplots()[1]


def plot_history(history, y=("train_loss", "val_loss"), ax=None, title: str | None = None):
    """Curves of the recorded quantities ``y`` against epochs (a History or a DataFrame)."""
    df = history.frame() if hasattr(history, "frame") else history
    missing = [k for k in y if k not in df.columns]
    if missing:
        raise KeyError(f"not in the history: {missing}; recorded: {list(df.columns)}")
    ax = _ax(ax)
    long = df.melt(id_vars="epoch", value_vars=list(y), var_name="quantity", value_name="value")
    sns.lineplot(data=long, x="epoch", y="value", hue="quantity", marker="o", ax=ax)
    ax.set(title=title, ylabel="")
    return ax


def plot_curves(df, x: str, y: str, hue: str | None = None, ax=None, title: str | None = None,
                errorbar=("pi", 100), logx: bool = False, **kwargs):
    """Mean of ``y`` against ``x`` per ``hue``, with the spread over repeats (seeds) shaded.

    ``errorbar=("pi", 100)`` shades from the smallest to the largest repeat.
    """
    ax = _ax(ax)
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", errorbar=errorbar, ax=ax, **kwargs)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set(title=title)
    return ax


def label_log_axis(ax, values, axis: str = "x"):
    """On a log axis, label the measured values themselves (64, 128, 256 ...), not powers of ten.

    A log axis spanning less than two decades otherwise shows one or two labels (10^2), and
    the reader cannot tell which lengths were measured. Minor ticks are removed.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    ticks = sorted({float(v) for v in np.asarray(values, dtype=float).ravel()})
    if not ticks or ticks[0] <= 0:
        raise ValueError(f"a log axis needs positive values to label, got {ticks[:3]}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))
    return ax


def legend_outside(ax, below: bool = False, **kwargs):
    """Move ``ax``'s legend off the data: to the right of the axes, or below them (``below``).

    Other keywords (``title``, ``fontsize``, ``ncol`` ...) go to the legend."""
    if ax.get_legend() is None:
        raise ValueError("this axes has no legend to move (draw it with a hue, or call ax.legend() first)")
    where = dict(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2) if below else \
        dict(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    sns.move_legend(ax, frameon=False, **{**where, **kwargs})
    return ax


def heatmap(matrix, xticklabels="auto", yticklabels="auto", ax=None, title: str | None = None,
            annot: bool = False, fmt: str = ".2f", cmap: str = "viridis", **kwargs):
    """A labelled heatmap of a 2-D array, tensor or DataFrame (attention weights, accuracy grids).

    A DataFrame keeps its index and columns as tick labels and their names as axis labels.
    """
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().numpy()
    if not hasattr(matrix, "columns"):
        matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"heatmap takes a 2-D matrix, got shape {matrix.shape}")
    ax = _ax(ax)
    sns.heatmap(matrix, xticklabels=xticklabels, yticklabels=yticklabels, annot=annot, fmt=fmt, cmap=cmap,
                ax=ax, **kwargs)
    ax.set(title=title)
    ax.tick_params(axis="y", rotation=0)
    return ax


def draw_tokens(rows, labels=None, ax=None, title: str | None = None, highlight=None, cmap: str = "tab20",
                muted=("<pad>",)):
    """Draw token sequences as rows of coloured, labelled cells.

    Args:
        rows: a list of lists of token strings (rows may differ in length; shorter rows are
            left blank at the end, and an empty string leaves its cell blank).
        labels: a name for each row, drawn on the left.
        highlight: a bool array of the same layout; highlighted cells get a thick outline.
        muted: tokens drawn in grey rather than in a colour of their own (padding).
    """
    if len(rows) == 0:
        raise ValueError("draw_tokens needs at least one row")
    width = max(len(r) for r in rows)
    tokens = sorted({t for r in rows for t in r if t and t not in muted})
    colour = {t: i % 20 for i, t in enumerate(tokens)}
    grid = np.full((len(rows), width), np.nan)
    grey = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            if t in muted:
                grey[i, j] = True
            elif t:
                grid[i, j] = colour[t]
    ax = ax if ax is not None else plt.subplots(figsize=(max(4, 0.42 * width), 0.5 * len(rows) + 0.6))[1]
    ax.imshow(np.where(grey, 0.85, np.nan), cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=19, aspect="auto", alpha=0.55)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            if t:
                ax.text(j, i, t, ha="center", va="center", fontsize=8, color="0.45" if t in muted else "black")
            if highlight is not None and highlight[i][j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec="black"))
    ax.set_yticks(range(len(rows)), labels if labels is not None else [""] * len(rows))
    ax.set_xticks([])
    ax.set_xlim(-0.5, width - 0.5)
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set(title=title)
    return ax


def _png(frame, dpi: int) -> bytes:
    """PNG bytes of a frame: a matplotlib Figure (rendered at ``dpi``, then closed) or PNG bytes."""
    if isinstance(frame, (bytes, bytearray)):
        return bytes(frame)
    if not hasattr(frame, "savefig"):
        raise TypeError(f"a frame must be a matplotlib Figure or PNG bytes, got {type(frame).__name__}")
    buf = io.BytesIO()
    frame.savefig(buf, format="png", dpi=dpi)
    plt.close(frame)
    return buf.getvalue()


def _stack(children, selected_index: int = 0):
    """Widgets shown one at a time, the one at ``selected_index``: an ipywidgets 8 ``Stack``.

    ipywidgets 7 (which Colab ships) has no ``Stack``; there a ``Tab`` does the same job, its
    tab bar (numbered from 1) showing above the frames, still linked to the same controls.
    """
    import ipywidgets as widgets

    if hasattr(widgets, "Stack"):
        return widgets.Stack(children, selected_index=selected_index)
    tab = widgets.Tab(children)
    for i in range(len(children)):
        tab.set_title(i, str(i + 1))
    tab.selected_index = selected_index
    return tab


def _shared_stack(widget, values):
    """A :func:`_stack` of one ``widget(value)`` per value, all sharing the first one's layout (and
    style), so that the stored widget state holds one layout model, not one per frame."""
    first = widget(values[0])
    shared = {k: getattr(first, k) for k in ("layout", "style") if hasattr(first, k)}
    return _stack([first, *(widget(v, **shared) for v in values[1:])])


@functools.cache
def _explorer_class():
    """The StepExplorer widget class, made on first use so that seqlib imports without ipywidgets."""
    import ipywidgets as widgets

    class StepExplorer(widgets.VBox):
        """A VBox of a title, a slider (and play button) and the frames; its repr is short and fixed."""

        def __init__(self, children, n_steps: int, slider, stack, play=None, links=()):
            super().__init__(children)
            self.n_steps, self.slider, self.stack, self.play, self.links = n_steps, slider, stack, play, tuple(links)

        def __repr__(self):
            # The text/plain of the cell's output: nbval compares it, so no model ids or bytes.
            return f"StepExplorer({self.n_steps} steps)"

    return StepExplorer


def step_explorer(frames, labels=None, title: str | None = None, description: str = "step",
                  play: bool = True, interval: int = 600, dpi: int = 80):
    """Step through a list of figures with a slider that works in the static HTML page.

    Every part is a client-side widget: the frames are PNG images in a ``Stack``, and the
    slider (and play button) choose the frame shown through ``jslink``. Executed by nbclient
    (``make refresh``), the notebook stores the widgets' state, and the published page replays
    it without a kernel. Every frame is embedded in the page: keep them small (a few inches at
    the default ``dpi``, about 10 kB each).

    Args:
        frames: matplotlib Figures (each rendered to PNG and closed) or PNG bytes, in a list
            or, to keep one figure open at a time, a generator (``(draw(t) for t in range(T))``).
        labels: a short text per frame (``"t = 3, token 'b'"``), shown under the slider.
        title: a heading above the slider.
        description: the slider's name.
        play: add a play button that steps through the frames every ``interval`` milliseconds.
        dpi: the resolution the figures are rendered at.

    Returns:
        A ``StepExplorer``, an ipywidgets ``VBox`` whose ``slider``, ``stack``, ``play`` and
        ``links`` are its parts; it displays as ``StepExplorer(n steps)`` where widgets cannot.
    """
    pngs = [_png(f, dpi) for f in frames]  # one at a time: a generator keeps one figure open
    if not pngs:
        raise ValueError("step_explorer needs at least one frame, got none")
    labels = None if labels is None else [str(t) for t in labels]
    if labels is not None and len(labels) != len(pngs):
        raise ValueError(f"labels must give one text per frame: {len(pngs)} frames, got {len(labels)} labels")
    import ipywidgets as widgets

    n = len(pngs)
    stack = _shared_stack(lambda v, **kw: widgets.Image(value=v, format="png", **kw), pngs)
    slider = widgets.IntSlider(value=0, min=0, max=n - 1, description=description)
    links = [widgets.jslink((slider, "value"), (stack, "selected_index"))]
    controls, player = [slider], None
    if play:
        player = widgets.Play(value=0, min=0, max=n - 1, interval=interval, description="play")
        links.append(widgets.jslink((player, "value"), (slider, "value")))
        controls.insert(0, player)
    children = [widgets.HBox(controls), stack]
    if labels is not None:
        texts = _shared_stack(widgets.Label, labels)
        links.append(widgets.jslink((slider, "value"), (texts, "selected_index")))
        children.insert(1, texts)
    if title:
        children.insert(0, widgets.HTML(f"<b>{html.escape(title)}</b>"))
    return _explorer_class()(children, n, slider, stack, player, links)


def _attention_html(tokens, row, query) -> str:
    """One query's attention as HTML: every token shaded by its weight, the query outlined."""
    cells = []
    for s, (token, w) in enumerate(zip(tokens, row)):
        border = "2px solid #d62728" if s == query else "1px solid #ddd"
        cells.append(
            f'<span title="{w:.3f}" style="display:inline-block;text-align:center;margin:1px;padding:2px 4px;'
            f'border:{border};background:rgba(31,119,180,{w:.3f});font-family:monospace">'
            f'{html.escape(token)}<br><small>{w:.2f}</small></span>')
    return f"<div style='line-height:1.1'>{''.join(cells)}</div>"


@functools.cache
def _attention_explorer_class():
    """The AttentionExplorer widget class, made on first use (seqlib imports without ipywidgets)."""
    import ipywidgets as widgets

    class AttentionExplorer(widgets.VBox):
        """A VBox of controls (layer, head, query) and nested stacks of frames; a short fixed repr."""

        def __init__(self, children, shape, layer, head, query, stack, links=()):
            super().__init__(children)
            self.shape, self.layer, self.head, self.query = shape, layer, head, query
            self.stack, self.links = stack, tuple(links)

        def __repr__(self):
            L, H, T = self.shape
            return f"AttentionExplorer({L} layers, {H} heads, {T} queries)"

    return AttentionExplorer


def attention_explorer(tokens, weights, title: str | None = None):
    """Pick a layer, a head and a query token, and see how much that query attends to each token.

    The weights are drawn as the tokens themselves, each shaded by its weight (and labelled
    with it), the query outlined in red. Like :func:`step_explorer`, every part is a
    client-side widget: one HTML frame per (layer, head, query) in nested ``Stack`` s, chosen
    by two dropdowns and a slider through ``jslink``, so the published page stays interactive
    without a kernel.

    Args:
        tokens: the T tokens of one sequence, as strings.
        weights: attention weights (L, H, T, T) (layers, heads, queries, keys), for example one
            sequence of :meth:`seqlib.transformer.DecoderOnlyLM.attention_weights`; a tensor
            or an array.
        title: a heading above the controls.

    Returns:
        An ``AttentionExplorer``, an ipywidgets ``VBox`` whose ``layer``, ``head``, ``query``,
        ``stack`` and ``links`` are its parts; it displays as
        ``AttentionExplorer(L layers, H heads, T queries)`` where widgets cannot.
    """
    w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    tokens = [str(t) for t in tokens]
    T = len(tokens)
    if w.ndim != 4 or w.shape[2:] != (T, T):
        raise ValueError(f"weights must have shape (layers, heads, T, T) = (L, H, {T}, {T}) for {T} tokens, "
                         f"got {tuple(w.shape)}")
    if T == 0 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"attention_explorer needs at least one layer, head and token, got weights {tuple(w.shape)}")
    import ipywidgets as widgets

    L, H = w.shape[:2]
    layer = widgets.Dropdown(options=[(f"layer {i + 1}", i) for i in range(L)], value=0, description="layer")
    head = widgets.Dropdown(options=[(f"head {i + 1}", i) for i in range(H)], value=0, description="head")
    query = widgets.IntSlider(value=T - 1, min=0, max=T - 1, description="query")
    links, heads = [], []
    for i in range(L):
        per_head = []
        for j in range(H):
            frames = [_attention_html(tokens, w[i, j, t], t) for t in range(T)]
            queries = _shared_stack(widgets.HTML, frames)
            queries.selected_index = T - 1
            links.append(widgets.jslink((query, "value"), (queries, "selected_index")))
            per_head.append(queries)
        heads.append(_stack(per_head))
        links.append(widgets.jslink((head, "index"), (heads[-1], "selected_index")))
    stack = _stack(heads)
    links.append(widgets.jslink((layer, "index"), (stack, "selected_index")))
    children = [widgets.HBox([layer, head]), query, stack]
    if title:
        children.insert(0, widgets.HTML(f"<b>{html.escape(title)}</b>"))
    return _attention_explorer_class()(children, (L, H, T), layer, head, query, stack, links)
