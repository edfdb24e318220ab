"""The architecture diagrams say what seqlib's modules do: checked on their descriptions, not their pixels."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from seqlib import attention, diagrams, recurrent, transformer  # noqa: E402


@pytest.fixture
def draw():
    """Call a diagram function, hand back its description, and close the figure."""
    figures = []

    def _draw(function, *args, **kwargs):
        fig = function(*args, **kwargs)
        figures.append(fig)
        assert isinstance(fig, matplotlib.figure.Figure) and fig.diagram.title
        assert all(not ax.axison for ax in fig.axes)
        return fig.diagram

    yield _draw
    for fig in figures:
        plt.close(fig)


def labels(d, kind):
    return sorted(b.label for b in d.of_kind(kind))


def main_path(d, start):
    """The boxes met from ``start`` following the arrows that are not residual: each box's one way on."""
    path = [start]
    while True:
        on = [a.dst for a in d.out_of(path[-1]) if a.label != "residual"]
        if not on:
            return path
        assert len(on) == 1, f"{path[-1]} has several ways on: {on}"
        path.append(on[0])


# --- The LSTM cell --------------------------------------------------------------------------

def lstm_gates_from_docstring():
    """{gate: nonlinearity} as LSTMCell's docstring writes its equations: i_t = sigmoid(...), ..."""
    return dict(re.findall(r"^\s*(\w)_t = (sigmoid|tanh)\(", recurrent.LSTMCell.__doc__, re.M))


def test_lstm_cell_has_the_gates_and_weights_of_lstmcell(draw):
    d = draw(diagrams.lstm_cell)
    cell = recurrent.LSTMCell(3, 4)
    gates = lstm_gates_from_docstring()
    assert len(d.of_kind("weight")) == cell.W_ih.shape[0] // cell.hidden_size == len(gates)
    assert list(d.meta["gates"]) == list(gates)  # PyTorch's order, i, f, g, o, as LSTMCell chunks W_ih
    assert labels(d, "weight") == sorted(f"$W_{g}$" for g in gates)
    assert d.meta["nonlinearity"] == gates
    for g, act in gates.items():  # each gate's weights feed its own nonlinearity, which names the gate
        (w,) = [a.dst for a in d.out_of(f"W_{g}")]
        assert ("tanh" in d.box(w).label) == (act == "tanh") and ("sigma" in d.box(w).label) == (act == "sigmoid")
        assert [a.label for a in d.out_of(w)] == [f"${g}_t$"]


def test_lstm_cell_combines_the_gates_as_the_equations_do(draw):
    d = draw(diagrams.lstm_cell)
    gate_into = {a.label: a.dst for a in d.arrows if re.fullmatch(r"\$\w_t\$", a.label)}
    sources = {b.id: {a.src for a in d.into(b.id)} for b in d.boxes}
    assert sources[gate_into["$f_t$"]] == {"c_prev", "act_f"}  # f_t * c_{t-1}
    assert gate_into["$i_t$"] == gate_into["$g_t$"]  # i_t * g_t
    assert sources["add"] == {gate_into["$f_t$"], gate_into["$i_t$"]}  # c_t = f_t * c_{t-1} + i_t * g_t
    assert main_path(d, "add")[:3] == ["add", "c", "tanh_c"]
    assert sources[gate_into["$o_t$"]] == {"act_o", "tanh_c"} and main_path(d, "tanh_c")[-1] == "h"  # o_t * tanh(c_t)
    assert all(d.box(b).kind == "op" for b in gate_into.values())


# --- The encoder-decoder --------------------------------------------------------------------

def groups(d, a):
    return d.box(a.src).group, d.box(a.dst).group


def test_without_attention_one_arrow_crosses_from_the_encoder(draw):
    d = draw(diagrams.encoder_decoder, attention=False)
    crossing = [a for a in d.arrows if groups(d, a)[0] == "encoder" and groups(d, a)[1] != "encoder"]
    assert [(a.src, a.dst) for a in crossing] == [("h_S", "s_1")]
    assert not d.of_kind("context") and "alpha" not in " ".join(a.label for a in d.arrows)


def test_with_attention_every_encoder_state_is_weighted(draw):
    d = draw(diagrams.encoder_decoder, attention=True)
    states = [b.id for b in d.boxes if b.group == "encoder"]
    (context,) = d.of_kind("context")
    assert len(states) >= 3 and all(d.box(s).label.startswith("$h_") for s in states)
    for s in states:
        (a,) = [a for a in d.out_of(s) if a.dst == context.id]
        assert a.label == rf"$\alpha_{{t,{s.split('_')[1]}}}$"  # the book's alpha_{t,s}
    assert {a.src for a in d.into(context.id)} == set(states) | {"s_t"}  # and the query s_t
    assert "h_S" in {a.src for a in d.into("s_1")}  # the decoder still starts from h_S (Seq2Seq does)


@pytest.mark.parametrize("bad", ["additive", None, 1])
def test_encoder_decoder_wants_a_bool(bad):
    with pytest.raises(TypeError, match=r"True or False.*'additive'.*got"):
        diagrams.encoder_decoder(attention=bad)


# --- Multi-head attention -------------------------------------------------------------------

@pytest.mark.parametrize("nhead", [1, 2, 4, 8])
def test_multi_head_attention_draws_one_column_per_head(draw, nhead):
    d = draw(diagrams.multi_head_attention, nhead=nhead)
    mha = attention.MultiHeadAttention(8 * nhead, nhead)
    heads = d.of_kind("attention")
    assert len(heads) == mha.num_heads == mha.W_q.weight.shape[0] // mha.head_dim
    assert all(r"\sqrt{d_k}" in h.label and "softmax" in h.label for h in heads)
    assert len(d.of_kind("weight")) == 3 * nhead + 1  # W_Q, W_K, W_V per head, and W_O
    for i, head in enumerate(heads, start=1):
        assert sorted(d.box(a.src).label for a in d.into(head.id)) == sorted(
            f"$W_{m}^{{({i})}}$" for m in "QKV")
    assert {a.src for a in d.into("concat")} == {h.id for h in heads}
    assert main_path(d, "concat") == ["concat", "W_O", "out"]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (9, ValueError), ("4", TypeError)])
def test_multi_head_attention_rejects_bad_nhead(bad, error):
    with pytest.raises(error, match="nhead"):
        diagrams.multi_head_attention(nhead=bad)


# --- The Transformer block ------------------------------------------------------------------

def call_order(norm_first):
    """The order EncoderLayer runs its norms and sub-layers in, recorded by forward hooks."""
    layer = transformer.EncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first).eval()
    order = []
    for name in ("norm1", "norm2", "self_attn", "feed_forward"):
        getattr(layer, name).register_forward_hook(lambda *_, name=name: order.append(name))
    with torch.no_grad():
        layer(torch.zeros(1, 3, 8))
    return order


KIND_OF = {"norm1": "norm", "norm2": "norm", "self_attn": "attention", "feed_forward": "ffn"}


@pytest.mark.parametrize("norm", ["pre-norm", "post-norm"])
def test_transformer_block_places_its_norms_as_encoderlayer_does(draw, norm):
    d = draw(diagrams.transformer_block, norm)
    path = [d.box(b).kind for b in main_path(d, "x")]
    assert path[0] == "input" and path[-1] == "output"
    assert [k for k in path if k != "op"][1:-1] == [KIND_OF[m] for m in call_order(d.meta["norm_first"])]
    if norm == "pre-norm":
        assert path == ["input", "norm", "attention", "op", "norm", "ffn", "op", "output"]
    else:
        assert path == ["input", "attention", "op", "norm", "ffn", "op", "norm", "output"]
    residuals = [a for a in d.arrows if a.label == "residual"]
    assert [d.box(a.dst).kind for a in residuals] == ["op", "op"]
    for a in residuals:  # each skips exactly the sub-layer (and, in pre-norm, its norm) before its sum
        path_ids = main_path(d, a.src)
        skipped = [d.box(b).kind for b in path_ids[1:path_ids.index(a.dst)]]
        assert skipped in (["norm", "attention"], ["norm", "ffn"]) if norm == "pre-norm" else \
            skipped in (["attention"], ["ffn"])


def test_transformer_block_norm_matches_the_layers_flag(draw):
    assert draw(diagrams.transformer_block, "pre-norm").meta["norm_first"] is True
    assert draw(diagrams.transformer_block, "post-norm").meta["norm_first"] is False
    assert call_order(True) != call_order(False)  # the two flags really differ in the layer


@pytest.mark.parametrize("bad", ["prenorm", "norm_first", True, None])
def test_transformer_block_rejects_other_norms(bad):
    with pytest.raises(ValueError, match=r"'post-norm', 'pre-norm'.*got " + re.escape(repr(bad))):
        diagrams.transformer_block(bad)


# --- Every diagram: arrows end on box outlines ----------------------------------------------

def on_outline(box, point, tol=1e-6):
    (x, y), (w, h), (px, py) = box.xy, box.size, point
    if box.kind == "op":
        return abs(np.hypot(px - x, py - y) - w / 2) < tol
    inside = abs(px - x) <= w / 2 + tol and abs(py - y) <= h / 2 + tol
    return inside and (abs(abs(px - x) - w / 2) < tol or abs(abs(py - y) - h / 2) < tol)


@pytest.mark.parametrize("function, args", [(diagrams.lstm_cell, ()), (diagrams.encoder_decoder, (False,)),
                                            (diagrams.encoder_decoder, (True,)),
                                            (diagrams.multi_head_attention, (3,)),
                                            (diagrams.transformer_block, ("pre-norm",)),
                                            (diagrams.transformer_block, ("post-norm",))])
def test_arrows_start_and_end_on_box_outlines(draw, function, args):
    d = draw(function, *args)
    ids = [b.id for b in d.boxes]
    assert len(ids) == len(set(ids))
    for a in d.arrows:
        points = diagrams.route(d, a)
        assert on_outline(d.box(a.src), points[0]) and on_outline(d.box(a.dst), points[-1]), a
