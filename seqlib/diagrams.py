"""Architecture diagrams in the book's notation: the LSTM cell, the encoder-decoder, multi-head
attention and a Transformer encoder layer.

Each function returns a matplotlib Figure::

    lstm_cell()                          the gates i, f, g, o of seqlib.recurrent.LSTMCell
    encoder_decoder(attention=False)     seqlib.seq2seq.Seq2Seq: the bottleneck, or the context c_t
    multi_head_attention(nhead=4)        seqlib.attention.MultiHeadAttention, one column per head
    transformer_block("pre-norm")        seqlib.transformer.EncoderLayer, pre-norm or post-norm

The diagrams are drawn by hand with matplotlib's patches, not with graphviz: the ``dot`` program
is not installed everywhere the book runs (Colab), and a hand layout keeps the picture in the
order the equations are read. Each picture is first written down as a :class:`Diagram`, a list
of labelled boxes and a list of arrows between their ids; one helper draws any such list, and
the description stays on the figure (``fig.diagram``), so that tests can check what a picture
says (four gates, one arrow through the bottleneck, a norm before each sub-layer) without
looking at its pixels. The labels are the chapters' symbols: :math:`W_f`, :math:`c_t`,
:math:`\\alpha_{t,s}`, :math:`W_Q^{(i)}`, :math:`d_k`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from ._validate import check_int

__all__ = ["Box", "Arrow", "Diagram", "route", "lstm_cell", "encoder_decoder", "multi_head_attention",
           "transformer_block", "NORMS"]

NORMS = {"post-norm": False, "pre-norm": True}  # the book's names -> EncoderLayer's norm_first

# Each kind of box gets a colour of the book's palette (seaborn's colour-blind one, seqlib.viz).
_COLOUR = {"input": 7, "output": 7, "state": 0, "weight": 1, "activation": 2, "op": 7, "attention": 4,
           "norm": 8, "ffn": 2, "concat": 9, "context": 3}


@dataclass(frozen=True)
class Box:
    """A labelled box centred at ``xy`` (data units), ``size`` wide and high; ``kind`` sets its colour
    and its role (``"weight"``, ``"activation"``, ``"op"`` for an elementwise product or sum,
    drawn as a circle, ``"norm"``, ``"attention"`` ...), ``group`` the part of the model it is in."""
    id: str
    label: str
    xy: tuple
    kind: str = "state"
    size: tuple = (1.0, 0.55)
    group: str = ""


@dataclass(frozen=True)
class Arrow:
    """An arrow from box ``src`` to box ``dst``, through the points ``via``; ``start`` and ``end`` are
    points inside the boxes to aim from and at (their centres if None); ``dashed`` for a skipped stretch."""
    src: str
    dst: str
    label: str = ""
    via: tuple = ()
    start: tuple | None = None
    end: tuple | None = None
    dashed: bool = False
    label_at: float = 0.5  # where along the arrow's (middle) segment the label sits
    label_above: bool = False  # beside the arrow rather than on it (for short arrows)


@dataclass
class Diagram:
    """What a figure shows: boxes, arrows between their ids, a title, a note under it, and facts
    (``meta``) such as the gate order or ``norm_first``."""
    title: str
    boxes: list
    arrows: list
    note: str = ""
    meta: dict = field(default_factory=dict)

    def box(self, id: str) -> Box:
        return next(b for b in self.boxes if b.id == id)

    def of_kind(self, kind: str) -> list:
        return [b for b in self.boxes if b.kind == kind]

    def into(self, id: str) -> list:
        """The arrows that end at box ``id``."""
        return [a for a in self.arrows if a.dst == id]

    def out_of(self, id: str) -> list:
        """The arrows that start at box ``id``."""
        return [a for a in self.arrows if a.src == id]


# ---------------------------------------------------------------------------------------------
# Drawing: one helper for every diagram
# ---------------------------------------------------------------------------------------------

def _on_edge(box: Box, inside, towards) -> np.ndarray:
    """Where the segment from ``inside`` (a point in ``box``) to ``towards`` leaves the box's outline."""
    p, d = np.asarray(inside, float), np.asarray(towards, float) - np.asarray(inside, float)
    c, (w, h) = np.asarray(box.xy, float), box.size
    if box.kind == "op":  # a circle of diameter w: solve |p + t d - c| = w / 2 for the exit t
        r, q = w / 2, p - c
        a, b, cc = d @ d, 2 * q @ d, q @ q - r * r
        t = (-b + np.sqrt(max(b * b - 4 * a * cc, 0.0))) / (2 * a)
    else:  # a rectangle: the first side the segment crosses
        t = min(((c[k] + s * half - p[k]) / d[k] for k, half in ((0, w / 2), (1, h / 2)) for s in (-1, 1)
                 if d[k] * s > 0), default=0.0)
    return p + t * d


def route(diagram: Diagram, arrow: Arrow) -> np.ndarray:
    """The points an arrow is drawn through (N, 2): from the source's outline to the target's."""
    src, dst = diagram.box(arrow.src), diagram.box(arrow.dst)
    a = arrow.start if arrow.start is not None else src.xy
    b = arrow.end if arrow.end is not None else dst.xy
    via = [np.asarray(v, float) for v in arrow.via]
    first = _on_edge(src, a, via[0] if via else b)
    last = _on_edge(dst, b, via[-1] if via else a)
    return np.array([first, *via, last])


def _shade(colour, amount: float = 0.78):
    """``colour`` mixed with white: the fill of a box whose outline is ``colour``."""
    return tuple(amount + (1 - amount) * np.asarray(colour))


def _draw(diagram: Diagram, scale: float = 0.62, fontsize: float = 10):
    """Draw ``diagram`` on a new figure (``scale`` inches per data unit) and keep it as ``fig.diagram``."""
    palette = sns.color_palette("colorblind")
    xs = [b.xy[0] + s * b.size[0] / 2 for b in diagram.boxes for s in (-1, 1)]
    ys = [b.xy[1] + s * b.size[1] / 2 for b in diagram.boxes for s in (-1, 1)]
    for a in diagram.arrows:
        xs += [v[0] for v in a.via]
        ys += [v[1] for v in a.via]
    margin, below = 0.3, 0.55 if diagram.note else 0.0
    x0, x1, y0, y1 = min(xs) - margin, max(xs) + margin, min(ys) - margin - below, max(ys) + margin
    height, top = (y1 - y0) * scale, 0.45  # inches: the drawing, and the title's band above it
    fig = plt.figure(figsize=((x1 - x0) * scale, height + top))
    ax = fig.add_axes((0, 0, 1, height / (height + top)))  # exactly ``scale`` inches per unit, both ways
    ax.set(xlim=(x0, x1), ylim=(y0, y1))
    ax.set_axis_off()
    ax.set_title(diagram.title)
    for b in diagram.boxes:
        colour = palette[_COLOUR.get(b.kind, 0)]
        (x, y), (w, h) = b.xy, b.size
        pad = 0 if b.kind == "op" else 0.08
        style = "circle,pad=0" if b.kind == "op" else f"round,pad={pad}"
        ax.add_patch(FancyBboxPatch((x - w / 2 + pad, y - h / 2 + pad), w - 2 * pad, h - 2 * pad, boxstyle=style,
                                    fc=_shade(colour), ec=colour, lw=1.4, zorder=2))
        ax.text(x, y, b.label, ha="center", va="center", fontsize=fontsize * (1.25 if b.kind == "op" else 1),
                zorder=3, linespacing=1.5)
    for a in diagram.arrows:
        points = route(diagram, a)
        ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=11, lw=1.1,
                                     color="0.25", linestyle="--" if a.dashed else "-", shrinkA=0, shrinkB=0,
                                     zorder=1))
        if a.label:
            k = (len(points) - 2) // 2  # the middle segment: the only one, or a routed arrow's long side
            (x, y), (dx, dy) = points[k] + a.label_at * (points[k + 1] - points[k]), points[k + 1] - points[k]
            vertical = abs(dx) < 1e-9
            ax.text(x, y + 0.12 * a.label_above, a.label, ha="center", va="bottom" if a.label_above else "center",
                    fontsize=fontsize * 0.9, zorder=4, rotation=90 if vertical and a.via else 0,
                    bbox=None if a.label_above else dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    texts = [ax.title]
    if diagram.note:
        texts.append(ax.text((x0 + x1) / 2, y0 + 0.2, diagram.note, ha="center", va="bottom",
                             fontsize=fontsize * 0.85, color="0.3"))
    # Widen a narrow diagram (a Transformer layer) until its title and note fit.
    renderer = fig.canvas.get_renderer()
    need = max(t.get_window_extent(renderer).width for t in texts) / fig.dpi + 0.3
    if need > (x1 - x0) * scale:
        extra = need / scale - (x1 - x0)
        x0, x1 = x0 - extra / 2, x1 + extra / 2
        ax.set_xlim(x0, x1)
        fig.set_size_inches((x1 - x0) * scale, fig.get_size_inches()[1])
    fig.diagram = diagram
    return fig


# ---------------------------------------------------------------------------------------------
# The diagrams
# ---------------------------------------------------------------------------------------------

def lstm_cell():
    """The LSTM cell of :class:`seqlib.recurrent.LSTMCell`, one step, in PyTorch's gate order (i, f, g, o)::

        i_t = sigma(W_i [x_t; h_{t-1}] + b_i)    f_t = sigma(W_f ...)    g_t = tanh(W_g ...)    o_t = sigma(W_o ...)
        c_t = f_t * c_{t-1} + i_t * g_t          h_t = o_t * tanh(c_t)

    ``W_i`` stands for the pair ``W_{xi}, W_{hi}`` of Chapter 3 (the blocks of ``W_ih`` and ``W_hh``).
    ``fig.diagram.meta["gates"]`` holds the order and each gate's nonlinearity.
    """
    gates = {"i": (5.0, r"$\sigma$"), "f": (3.5, r"$\sigma$"), "g": (6.5, r"$\tanh$"), "o": (8.0, r"$\sigma$")}
    small, op = (0.85, 0.55), (0.5, 0.5)
    boxes = [Box("c_prev", "$c_{t-1}$", (1.0, 6.0), "input"), Box("h_prev", "$h_{t-1}$", (1.0, 0.0), "input"),
             Box("x", "$x_t$", (5.75, -1.3), "input"),
             Box("concat", r"$[x_t;\ h_{t-1}]$", (5.75, 0.0), "concat", (5.4, 0.55)),
             Box("mul_f", r"$\odot$", (3.5, 6.0), "op", op), Box("mul_ig", r"$\odot$", (5.75, 4.3), "op", op),
             Box("add", "$+$", (5.75, 6.0), "op", op), Box("c", "$c_t$", (9.6, 6.0), "output"),
             Box("tanh_c", r"$\tanh$", (9.6, 4.3), "activation", small), Box("mul_o", r"$\odot$", (9.6, 2.6), "op", op),
             Box("h", "$h_t$", (11.3, 2.6), "output")]
    arrows = [Arrow("h_prev", "concat"), Arrow("x", "concat"),
              Arrow("c_prev", "mul_f"), Arrow("mul_f", "add"), Arrow("mul_ig", "add"), Arrow("add", "c"),
              Arrow("c", "tanh_c"), Arrow("tanh_c", "mul_o", r"$\tanh(c_t)$"), Arrow("mul_o", "h")]
    into = {"i": "mul_ig", "f": "mul_f", "g": "mul_ig", "o": "mul_o"}
    for g, (x, act) in gates.items():
        boxes += [Box(f"W_{g}", f"$W_{g}$", (x, 1.3), "weight", small),
                  Box(f"act_{g}", act, (x, 2.6), "activation", small)]
        arrows += [Arrow("concat", f"W_{g}", start=(x, 0.0)), Arrow(f"W_{g}", f"act_{g}"),
                   Arrow(f"act_{g}", into[g], f"${g}_t$", label_at=0.45)]
    note = (r"$W_\ast$ acts on $[x_t;\ h_{t-1}]$: $W_\ast = [W_{x\ast}\ \ W_{h\ast}]$, plus a bias $b_\ast$;"
            r"  $\odot$: elementwise product")
    meta = {"gates": tuple(gates), "nonlinearity": {g: "tanh" if "tanh" in act else "sigmoid"
                                                    for g, (_, act) in gates.items()}}
    return _draw(Diagram("The LSTM cell: one step", boxes, arrows, note, meta))


def encoder_decoder(attention: bool = False):
    """The LSTM encoder-decoder of :class:`seqlib.seq2seq.Seq2Seq` (Chapter 4's notation).

    The encoder reads x_1 .. x_S into states h_1 .. h_S; the decoder, with states s_t, starts from
    the final one, h_S. Without attention that arrow is all the decoder sees of the source (the
    bottleneck). With it, at step t weights alpha_{t,s} = softmax_s score(s_t, h_s) over every
    encoder state form the context c_t = sum_s alpha_{t,s} h_s, combined with s_t (Luong's
    h~_t = tanh(W_c [c_t; s_t])) before the output y_t.
    """
    if not isinstance(attention, (bool, np.bool_)):
        raise TypeError(f"attention must be True or False (the picture is the same for the scores 'additive', "
                        f"'general' and 'dot'), got {attention!r}")
    enc = [("1", 1.0), ("2", 2.8), ("S", 4.9)]
    dec = [("1", "0", 7.2), ("{t-1}", "{t-2}", 9.0), ("t", "{t-1}", 11.1)]
    boxes, arrows = [], []
    for i, (s, x) in enumerate(enc):
        boxes += [Box(f"x_{s}", f"$x_{s}$", (x, 0.4), "input", group="source"),
                  Box(f"h_{s}", f"$h_{s}$", (x, 1.8), "state", group="encoder")]
        arrows.append(Arrow(f"x_{s}", f"h_{s}"))
        if i:
            arrows.append(Arrow(f"h_{enc[i - 1][0]}", f"h_{s}", dashed=s == "S"))
    for i, (t, prev, x) in enumerate(dec):
        boxes += [Box(f"y_{prev}", f"$y_{prev}$", (x, 0.4), "input", group="target"),
                  Box(f"s_{t}", f"$s_{t}$", (x, 1.8), "state", group="decoder")]
        arrows.append(Arrow(f"y_{prev}", f"s_{t}"))
        if i:
            arrows.append(Arrow(f"s_{dec[i - 1][0]}", f"s_{t}", dashed=i == 1))
    arrows.append(Arrow("h_S", "s_1", "initial state" if attention else "bottleneck", label_above=True))
    top = 3.3
    if attention:
        boxes += [Box("c_t", r"$c_t = \sum_s \alpha_{t,s} h_s$", (6.3, 3.9), "context", (2.4, 0.6), "attention"),
                  Box("h_tilde", r"$\tilde s_t$", (11.1, 3.9), "state", group="decoder")]
        for s, x in enc:
            arrows.append(Arrow(f"h_{s}", "c_t", rf"$\alpha_{{t,{s}}}$", end=(5.6 + 0.2 * (x > 3) + 0.3 * (x > 4), 3.9),
                                label_at=0.45))
        arrows += [Arrow("s_t", "c_t", "query", start=(10.8, 1.8), end=(7.0, 3.9), label_at=0.45),
                   Arrow("c_t", "h_tilde"), Arrow("s_t", "h_tilde")]
        top = 5.3
    boxes.append(Box("y_t", "$y_t$", (11.1, top), "output", group="output"))
    arrows.append(Arrow("h_tilde" if attention else "s_t", "y_t"))
    title = ("Encoder-decoder with attention: a context from every encoder state" if attention else
             "Encoder-decoder without attention: one state carries the source")
    note = r"$\alpha_{t,s} = \mathrm{softmax}_s\ \mathrm{score}(s_t, h_s)$,  $\tilde s_t = \tanh(W_c\,[c_t;\ s_t])$" \
        if attention else r"the decoder sees the source only through $h_S$"
    return _draw(Diagram(title, boxes, arrows, note, {"attention": bool(attention)}))


def multi_head_attention(nhead: int = 4):
    """Multi-head attention as :class:`seqlib.attention.MultiHeadAttention` computes it (Chapter 5)::

        head_i = softmax((X W_Q^(i)) (X W_K^(i))^T / sqrt(d_k)) (X W_V^(i))     i = 1..h, d_k = E / h
        MultiHead(X) = Concat(head_1, ..., head_h) W_O

    drawn for self-attention, one column per head (1 to 8 heads fit on a page).
    """
    h = check_int(nhead, "nhead", minimum=1, maximum=8)
    width = 2.9
    xs = [1.5 + width * i for i in range(h)]
    mid, span = (xs[0] + xs[-1]) / 2, xs[-1] - xs[0] + 2.6
    boxes = [Box("X", "$X$", (mid, 0.0), "input", (span, 0.55)),
             Box("concat", r"$\mathrm{Concat}(\mathrm{head}_1, \ldots, \mathrm{head}_h)$", (mid, 4.2), "concat",
                 (span, 0.55)),
             Box("W_O", "$W_O$", (mid, 5.3), "weight", (0.9, 0.55)),
             Box("out", r"$\mathrm{MultiHead}(X)$", (mid, 6.4), "output", (2.2, 0.55))]
    arrows = [Arrow("concat", "W_O"), Arrow("W_O", "out")]
    for i, x in enumerate(xs, start=1):
        boxes.append(Box(f"head_{i}", f"head {i}\n" + r"$\mathrm{softmax}(QK^{\top}/\sqrt{d_k})\,V$", (x, 2.75),
                         "attention", (2.65, 0.95)))
        for dx, m in ((-0.9, "Q"), (0.0, "K"), (0.9, "V")):
            boxes.append(Box(f"W_{m}{i}", f"$W_{m}^{{({i})}}$", (x + dx, 1.3), "weight", (0.8, 0.6)))
            arrows += [Arrow("X", f"W_{m}{i}", start=(x + dx, 0.0)),
                       Arrow(f"W_{m}{i}", f"head_{i}", end=(x + dx, 2.75))]
        arrows.append(Arrow(f"head_{i}", "concat", end=(x, 4.2)))
    note = rf"self-attention: $h = {h}$ heads of $d_k = E/h$ features; in cross-attention $K, V$ come from the encoder"
    return _draw(Diagram(f"Multi-head attention, h = {h}", boxes, arrows, note, {"nhead": h}))


def transformer_block(norm: str = "post-norm"):
    """One encoder layer of :class:`seqlib.transformer.EncoderLayer`, bottom to top (Chapter 6)::

        post-norm (norm_first=False):   x = LN(x + SelfAttention(x));   x = LN(x + FFN(x))
        pre-norm  (norm_first=True):    x = x + SelfAttention(LN(x));   x = x + FFN(LN(x))

    ``norm`` is the book's name, ``"pre-norm"`` or ``"post-norm"``; ``fig.diagram.meta["norm_first"]``
    is the matching ``EncoderLayer`` flag.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(repr(k) for k in NORMS)} (norm_first=True or False "
                         f"in seqlib.transformer), got {norm!r}")
    pre = NORMS[norm]
    wide, op = (4.4, 0.6), (0.45, 0.45)
    attn = Box("attn", "multi-head self-attention", (0, 0), "attention", wide)
    ffn = Box("ffn", r"feed-forward  $W_2\,\mathrm{ReLU}(W_1 x)$", (0, 0), "ffn", wide)
    ln1, ln2 = (Box(f"ln{i}", f"LayerNorm$_{i}$", (0, 0), "norm", wide) for i in (1, 2))
    add1, add2 = (Box(f"add{i}", "$+$", (0, 0), "op", op) for i in (1, 2))
    order = [ln1, attn, add1, ln2, ffn, add2] if pre else [attn, add1, ln1, ffn, add2, ln2]
    x0 = 3.0
    column = [Box("x", "$x$", (x0, 0.0), "input")]
    for k, b in enumerate(order, start=1):
        column.append(Box(b.id, b.label, (x0, 1.15 * k), b.kind, b.size))
    column.append(Box("out", "output", (x0, 1.15 * (len(order) + 1)), "output", (1.3, 0.55)))
    arrows = [Arrow(a.id, b.id) for a, b in zip(column, column[1:])]
    y = {b.id: b.xy[1] for b in column}
    # The residual of each sub-layer, from its input (before its norm, in pre-norm) to its sum: the
    # first on the left, the second on the right, so that in pre-norm they do not meet at add1.
    lanes = (x0 - wide[0] / 2 - 0.8, x0 + wide[0] / 2 + 0.8)
    for lane, (src, dst) in zip(lanes, (("x", "add1"), ("add1", "add2")) if pre else (("x", "add1"), ("ln1", "add2"))):
        arrows.append(Arrow(src, dst, "residual", via=((lane, y[src]), (lane, y[dst]))))
    note = r"a pre-norm stack ends with a final LayerNorm (Encoder adds it)" if pre else \
        r"the 2017 original: each sum is normalised"
    return _draw(Diagram(f"Transformer encoder layer, {norm}", column, arrows, note,
                         {"norm": norm, "norm_first": pre}))
