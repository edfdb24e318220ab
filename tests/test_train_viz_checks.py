"""The training loop, the plotting helpers and the exercise checkers."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import seqlib  # noqa: E402
from seqlib import checks, data, train, viz  # noqa: E402


class BagOfWords(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.out = nn.Linear(8, 2)

    def forward(self, x, lengths):
        return self.out(data.masked_mean(self.emb(x), data.lengths_to_mask(lengths, x.shape[1])))


def test_fit_learns_an_easy_task_and_records_its_history(capsys, monkeypatch):
    monkeypatch.setenv("SEQLIB_PROGRESS", "0")
    seqlib.setup(seed=0)
    d = data.majority_task(600, 3, 12, seed=0)
    tr, va = d.split(0.8)
    model = BagOfWords(len(d.vocab))
    before = train.evaluate(model, va)["accuracy"]
    hist = train.fit(model, tr, epochs=15, lr=0.03, val=va)
    assert len(hist) == 15
    assert {"epoch", "train_loss", "grad_norm", "seconds", "val_loss", "val_accuracy"} <= set(hist.frame().columns)
    assert hist.last("val_accuracy") > 0.9 > before
    assert hist.frame().train_loss.iloc[-1] < hist.frame().train_loss.iloc[0]
    assert capsys.readouterr().err == ""  # no progress bar when SEQLIB_PROGRESS=0


def test_fit_clips_gradients_and_stops_on_nan():
    seqlib.setup(seed=0)
    d = data.adding_problem(64, 6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 1), nn.Flatten(0))
    hist = train.fit(model, d, epochs=1, loss="mse", metrics=(), clip=1e-3, progress=False)
    assert hist.last("grad_norm") > 1e-3  # the norm is recorded before clipping
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        train.fit(model, d, epochs=1, loss="mse", metrics=(), progress=False)


def test_fit_warms_the_learning_rate_up_linearly():
    seqlib.setup(seed=0)
    d = data.adding_problem(64, 6)

    def first_step(warmup):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(12, 1), nn.Flatten(0))
        before = model[1].weight.detach().clone()
        train.fit(model, d, epochs=1, batch_size=64, lr=0.1, loss="mse", metrics=(), warmup=warmup, progress=False)
        return (model[1].weight.detach() - before).abs().max().item()  # Adam's first step moves by the rate

    assert first_step(0) == pytest.approx(0.1, rel=1e-3)
    assert first_step(100) == pytest.approx(0.001, rel=1e-3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 1), nn.Flatten(0))
    hist = train.fit(model, d, epochs=4, batch_size=16, lr=0.1, loss="mse", metrics=(), warmup=10, progress=False)
    assert hist.frame().lr.tolist() == pytest.approx([0.04, 0.08, 0.1, 0.1])  # steps 4, 8, 12, 16 of 10
    with pytest.raises(ValueError, match="warmup must be at least 0, got -1"):
        train.fit(model, d, epochs=1, loss="mse", warmup=-1, progress=False)


def test_losses_reject_mismatched_shapes_and_unknown_names():
    with pytest.raises(ValueError, match=r"logits must have shape y.shape \+ \(classes,\)"):
        train.cross_entropy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        train.mse(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        train.fit(nn.Linear(1, 1), data.adding_problem(4, 2), loss="hinge", progress=False)


def test_accuracy_skips_ignored_targets():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])
    assert train.accuracy(logits, torch.tensor([[0, 0, data.IGNORE]])) == 0.5


def test_history_errors_are_clear():
    h = train.History()
    with pytest.raises(ValueError, match="empty"):
        h.last("val_loss")
    h.log(epoch=1, train_loss=0.5)
    with pytest.raises(KeyError, match="recorded"):
        h.last("val_loss")


def test_viz_helpers_draw_and_reject_bad_input():
    h = train.History()
    for e in range(1, 4):
        h.log(epoch=e, train_loss=1 / e, val_loss=1.2 / e)
    assert len(viz.plot_history(h).get_lines()) >= 2
    with pytest.raises(KeyError, match="not in the history"):
        viz.plot_history(h, y=("val_accuracy",))
    assert viz.heatmap(torch.rand(3, 4)).collections
    with pytest.raises(ValueError, match="2-D matrix"):
        viz.heatmap(torch.rand(3))
    ax = viz.draw_tokens([["a", "b"], ["c"]], labels=["x", "y"], highlight=[[True, False], [False]])
    assert len(ax.texts) == 3 and len(ax.patches) == 1
    ax = viz.draw_tokens([["a", "<pad>", ""]])
    assert [t.get_text() for t in ax.texts] == ["a", "<pad>"]  # empty cells stay blank
    import pandas as pd
    grid = pd.DataFrame([[0.1, 0.2]], index=pd.Index([4], name="k"), columns=pd.Index([1, 2], name="distance"))
    ax = viz.heatmap(grid)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"] and ax.get_xlabel() == "distance"
    plt.close("all")



def _frames(n):
    """n small figures, each titled with its step."""
    for t in range(n):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, 1], [0, t])
        ax.set_title(f"t = {t}")
        yield fig


def _linked(ex, source, target):
    return any((lk.source[0], lk.source[1], lk.target[0], lk.target[1]) == (*source, *target) for lk in ex.links)


def test_step_explorer_links_slider_and_frames_client_side():
    ipywidgets = pytest.importorskip("ipywidgets")
    ex = viz.step_explorer(_frames(5), labels=[f"t = {t}" for t in range(5)], title="demo")
    assert isinstance(ex, ipywidgets.VBox)
    assert len(ex.stack.children) == 5 and all(isinstance(im, ipywidgets.Image) for im in ex.stack.children)
    assert bytes(ex.stack.children[0].value).startswith(b"\x89PNG")
    assert (ex.slider.min, ex.slider.max, ex.slider.value, ex.stack.selected_index) == (0, 4, 0, 0)
    assert ex.play is not None and ex.play.max == 4
    # jslink (a Link widget, run in the browser), never a Python-side observe: the page has no kernel.
    assert [lk._model_name for lk in ex.links] == ["LinkModel"] * 3
    assert _linked(ex, (ex.slider, "value"), (ex.stack, "selected_index"))
    assert _linked(ex, (ex.play, "value"), (ex.slider, "value"))
    texts = [w for w in ex.children if isinstance(w, ipywidgets.Stack) and w is not ex.stack]
    assert [lab.value for lab in texts[0].children] == [f"t = {t}" for t in range(5)]
    assert _linked(ex, (ex.slider, "value"), (texts[0], "selected_index"))
    assert plt.get_fignums() == []  # the figures are closed, so the inline backend does not show them too
    # nbval compares text/plain strictly: it must be short and free of model ids and image bytes.
    bundle = ex._repr_mimebundle_()
    assert repr(ex) == bundle["text/plain"] == "StepExplorer(5 steps)"
    png = bytes(ex.stack.children[0].value)
    assert repr(viz.step_explorer([png, png], play=False)) == "StepExplorer(2 steps)"


def test_attention_explorer_links_layer_head_and_query_client_side():
    ipywidgets = pytest.importorskip("ipywidgets")
    L, H, T = 2, 3, 4
    w = torch.softmax(torch.randn(L, H, T, T, generator=torch.Generator().manual_seed(0)), dim=-1)
    ex = viz.attention_explorer(["a", "b", "<c>", "d"], w, title="demo")
    assert repr(ex) == "AttentionExplorer(2 layers, 3 heads, 4 queries)"
    assert len(ex.stack.children) == L and all(len(s.children) == H for s in ex.stack.children)
    frame = ex.stack.children[1].children[2].children[3]  # layer 2, head 3, query 4
    assert isinstance(frame, ipywidgets.HTML) and "&lt;c&gt;" in frame.value  # tokens are escaped
    shown = [float(v) for v in re.findall(r"<small>([0-9.]+)</small>", frame.value)]
    assert shown == pytest.approx(w[1, 2, 3].tolist(), abs=0.005)  # the weights of that query, in order
    assert frame.value.count("#d62728") == 1  # the query is outlined
    assert [lk._model_name for lk in ex.links] == ["LinkModel"] * (1 + L + L * H)
    assert _linked(ex, (ex.layer, "index"), (ex.stack, "selected_index"))
    assert all(_linked(ex, (ex.head, "index"), (s, "selected_index")) for s in ex.stack.children)
    assert all(_linked(ex, (ex.query, "value"), (q, "selected_index"))
               for s in ex.stack.children for q in s.children)
    with pytest.raises(ValueError, match=r"weights must have shape \(layers, heads, T, T\) = \(L, H, 3, 3\)"):
        viz.attention_explorer(["a", "b", "c"], w)


def test_explorers_fall_back_to_tabs_where_ipywidgets_has_no_stack(monkeypatch):
    """ipywidgets 7 (Colab's) has no Stack: the explorers use a Tab instead, linked the same way."""
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.delattr(ipywidgets, "Stack", raising=False)
    ex = viz.step_explorer(_frames(3), labels=["a", "b", "c"])
    assert isinstance(ex.stack, ipywidgets.Tab) and len(ex.stack.children) == 3
    assert [ex.stack.get_title(i) for i in range(3)] == ["1", "2", "3"]
    assert _linked(ex, (ex.slider, "value"), (ex.stack, "selected_index"))
    w = torch.full((1, 2, 3, 3), 1 / 3)
    att = viz.attention_explorer(["a", "b", "c"], w)
    assert isinstance(att.stack, ipywidgets.Tab) and isinstance(att.stack.children[0], ipywidgets.Tab)
    assert att.stack.children[0].children[1].selected_index == 2  # the last query, as with a Stack
    assert _linked(att, (att.head, "index"), (att.stack.children[0], "selected_index"))
    plt.close("all")


def test_step_explorer_rejects_bad_input():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="at least one frame, got none"):
        viz.step_explorer([])
    with pytest.raises(ValueError, match="one text per frame: 3 frames, got 2 labels"):
        viz.step_explorer(_frames(3), labels=["a", "b"])
    with pytest.raises(TypeError, match="matplotlib Figure or PNG bytes, got str"):
        viz.step_explorer(["not a figure"])
    plt.close("all")

def test_checkers_pass_correct_and_fail_wrong_solutions():
    assert "agree" in checks.check_pad(lambda seqs: data.pad(seqs))
    with pytest.raises(AssertionError, match="padded values differ"):
        checks.check_pad(lambda seqs: data.pad(seqs, pad_value=-1))
    assert "agree" in checks.check_masked_mean(data.masked_mean)
    with pytest.raises(AssertionError, match="padding leak"):
        checks.check_masked_mean(lambda x, mask: x.mean(1))
    with pytest.raises(AssertionError, match="shape"):
        checks.check_masked_mean(lambda x, mask: x.sum())


def test_dot_attention_checker_passes_a_correct_solution_and_names_mistakes():
    def correct(q, k, v, mask):
        scores = torch.einsum("bh,bsh->bs", q, k).masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, dim=-1)
        return torch.einsum("bs,bsd->bd", w, v), w

    def unmasked(q, k, v, mask):
        w = torch.softmax(torch.einsum("bh,bsh->bs", q, k), dim=-1)
        return torch.einsum("bs,bsd->bd", w, v), w

    def scaled(q, k, v, mask):
        scores = torch.einsum("bh,bsh->bs", q, k).masked_fill(~mask, float("-inf")) / q.shape[-1] ** 0.5
        w = torch.softmax(scores, dim=-1)
        return torch.einsum("bs,bsd->bd", w, v), w

    assert "agree" in checks.check_dot_attention(correct)
    with pytest.raises(AssertionError, match="padded keys got non-zero weight"):
        checks.check_dot_attention(unmasked)
    with pytest.raises(AssertionError, match="sqrt"):
        checks.check_dot_attention(scaled)


def _attend(q, k, v, allowed, scale=True, dim=-1):
    scores = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5 if scale else 1.0)
    w = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=dim)
    return w @ v, w


def _lower(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


@pytest.mark.parametrize("wrong, message", [
    (lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]).T), "the triangle is reversed"),
    (lambda q, k, v: _attend(q, k, v, torch.ones(q.shape[1], q.shape[1], dtype=torch.bool)), "later key"),
    (lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]), scale=False), "not divided by sqrt"),
    (lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]).tril(-1)), "whole row masked"),
    (lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]), dim=-2), "the rows do not sum to 1"),
    (lambda q, k, v: (_attend(q, k, v, _lower(q.shape[1]))[0] * 2, _attend(q, k, v, _lower(q.shape[1]))[1]),
     "weights @ v"),
    (lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]))[0], "expected a tuple"),
])
def test_causal_attention_checker_passes_a_correct_solution_and_names_mistakes(wrong, message):
    assert "agree" in checks.check_causal_attention(lambda q, k, v: _attend(q, k, v, _lower(q.shape[1])))
    with pytest.raises(AssertionError, match=message):
        checks.check_causal_attention(wrong)


def _pre_norm(x, attend, ffn, norm1, norm2):
    x = x + attend(norm1(x))
    return x + ffn(norm2(x))


def _post_norm(x, attend, ffn, norm1, norm2):
    x = norm1(x + attend(x))
    return norm2(x + ffn(x))


@pytest.mark.parametrize("norm_first, correct, wrong", [(True, _pre_norm, _post_norm), (False, _post_norm, _pre_norm)])
def test_encoder_layer_checker_passes_either_placement_and_names_the_other(norm_first, correct, wrong):
    state = torch.random.get_rng_state()
    assert "agree with torch.nn.TransformerEncoderLayer" in checks.check_encoder_layer(correct, norm_first=norm_first)
    assert torch.equal(torch.random.get_rng_state(), state)  # grading leaves the caller's random state alone
    other = "post-norm" if norm_first else "pre-norm"
    with pytest.raises(AssertionError, match=f"It matches the {other} layer"):
        checks.check_encoder_layer(wrong, norm_first=norm_first)


def test_encoder_layer_checker_names_typical_mistakes():
    def no_ffn_residual(x, attend, ffn, norm1, norm2):
        return ffn(norm2(x + attend(norm1(x))))

    def no_attention_residual(x, attend, ffn, norm1, norm2):
        h = attend(norm1(x))
        return h + ffn(norm2(h))

    def residual_after_the_norm(x, attend, ffn, norm1, norm2):
        x = norm1(x)
        x = x + attend(x)
        x = norm2(x)
        return x + ffn(x)

    def swapped_norms(x, attend, ffn, norm1, norm2):
        return _pre_norm(x, attend, ffn, norm2, norm1)

    def transposed(x, attend, ffn, norm1, norm2):
        return _pre_norm(x, attend, ffn, norm1, norm2).transpose(0, 1)

    cases = [(no_ffn_residual, "without the residual around the feed-forward network"),
             (no_attention_residual, "without the residual around the self-attention"),
             (residual_after_the_norm, "residual taken after the norm"),
             (swapped_norms, "norm1 and norm2 swapped"),
             (transposed, r"expected a tensor of shape \(B, T, d_model\)")]
    for fn, message in cases:
        with pytest.raises(AssertionError, match=message):
            checks.check_encoder_layer(fn)
    with pytest.raises(AssertionError, match=r"differs from torch.nn.TransformerEncoderLayer\(norm_first=True\) "
                                             r"by up to [0-9.e+-]+\.$"):
        checks.check_encoder_layer(lambda x, attend, ffn, norm1, norm2: 2 * _pre_norm(x, attend, ffn, norm1, norm2))


# ---------------------------------------------------------------------------------------------
# Every grader: the same answer in other types passes; a crash or a wrong type names the case
# ---------------------------------------------------------------------------------------------

def _rnn_step(x_t, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def _lstm_step(x_t, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _dot_attention(q, k, v, mask):
    w = torch.softmax(torch.einsum("bh,bsh->bs", q, k).masked_fill(~mask, float("-inf")), dim=-1)
    return torch.einsum("bs,bsd->bd", w, v), w


def _lstm_params(I, H, L):
    return 4 * (H * I + H * H) + 8 * H + (L - 1) * (4 * 2 * H * H + 8 * H)


def _graders():
    from seqlib import forecast, interpret, linear_attention

    return {
        "check_pad": (checks.check_pad, lambda seqs: data.pad(seqs)),
        "check_masked_mean": (checks.check_masked_mean, data.masked_mean),
        "check_rnn_step": (checks.check_rnn_step, _rnn_step),
        "check_lstm_step": (checks.check_lstm_step, _lstm_step),
        "check_dot_attention": (checks.check_dot_attention, _dot_attention),
        "check_causal_attention": (checks.check_causal_attention, lambda q, k, v: _attend(q, k, v, _lower(q.shape[1]))),
        "check_encoder_layer": (checks.check_encoder_layer, _pre_norm),
        "check_leave_one_out": (checks.check_leave_one_out, interpret.leave_one_out),
        "check_linear_attention": (checks.check_linear_attention, linear_attention.linear_attention_recurrent),
        "check_seasonal_naive": (checks.check_seasonal_naive, forecast.seasonal_naive),
    }


def _convert(out, how):
    if isinstance(out, tuple):
        return tuple(_convert(o, how) for o in out)
    return how(out.detach()) if isinstance(out, torch.Tensor) else out


CONVERSIONS = {"float64": lambda t: t.double(), "numpy": lambda t: t.numpy(), "list": lambda t: t.tolist()}


def test_every_grader_is_covered_here():
    assert set(_graders()) | {"check_lstm_params"} == set(checks.__all__)


@pytest.mark.parametrize("name", sorted(_graders()))
@pytest.mark.parametrize("conversion", sorted(CONVERSIONS))
def test_graders_accept_a_correct_answer_of_any_type(name, conversion):
    grade, correct = _graders()[name]
    report = grade(correct)
    assert "agree" in report
    assert grade(lambda *args: _convert(correct(*args), CONVERSIONS[conversion])) == report


@pytest.mark.parametrize("name", sorted(_graders()) + ["check_lstm_params"])
def test_graders_name_the_case_of_a_function_that_raises_or_returns_the_wrong_type(name):
    grade = checks.check_lstm_params if name == "check_lstm_params" else _graders()[name][0]

    def crashes(*args):
        raise IndexError("index 7 is out of bounds")

    with pytest.raises(AssertionError, match=r"^(case 0 \(|input_size=5, hidden_size=3, num_layers=2).*: your function "
                                             r"raised IndexError: index 7 is out of bounds") as raised:
        grade(crashes)
    assert isinstance(raised.value.__cause__, IndexError)  # the learner's own traceback comes with it
    if name == "check_pad":
        assert "sequences [[5]]" in str(raised.value)  # the inputs themselves
    for wrong in ("a string", None, {"a": 1}):
        with pytest.raises(AssertionError, match=r"case 0|input_size=5, hidden_size=3, num_layers=2") as raised:
            grade(lambda *args, wrong=wrong: wrong)
        assert "expected" in str(raised.value)
    if name != "check_lstm_params":
        with pytest.raises(AssertionError, match=r"case 0.*(shape|tuple|pair)"):
            grade(lambda *args: torch.zeros(1, 2, 3, 4, 5))  # the wrong shape
        with pytest.raises(AssertionError, match=r"case 0.*expected"):
            grade(lambda *args: [[1.0, 2.0], [3.0]])  # a ragged list: no tensor at all


def test_check_pad_compares_without_rounding():
    def almost(seqs):
        padded, lengths = data.pad(seqs)
        return padded + 0.4, lengths  # rounds to the right ids, but is not them

    with pytest.raises(AssertionError, match="padded values differ"):
        checks.check_pad(almost)
    with pytest.raises(AssertionError, match="lengths should be"):
        checks.check_pad(lambda seqs: (data.pad(seqs)[0], data.pad(seqs)[1] + 0.3))
    assert "agree" in checks.check_pad(lambda seqs: (data.pad(seqs)[0].double(), data.pad(seqs)[1].double()))


@pytest.mark.parametrize("box", [int, "numpy int64", "numpy float64", "0-d array", "float", "tensor"])
def test_check_lstm_params_accepts_any_integer(box):
    import numpy as np

    wrap = {int: int, "numpy int64": np.int64, "numpy float64": np.float64, "0-d array": np.array,
            "float": float, "tensor": torch.tensor}[box]
    assert "agree" in checks.check_lstm_params(lambda I, H, L: wrap(_lstm_params(I, H, L)))
    with pytest.raises(AssertionError, match="expected an int"):
        checks.check_lstm_params(lambda I, H, L: _lstm_params(I, H, L) + 0.5)


@pytest.mark.parametrize("slip, message", [
    (lambda I, H, L: _lstm_params(I, H, L) - 4 * H * L, "one bias per gate"),
    (lambda I, H, L: _lstm_params(I, H, L) - 8 * H * L, "no biases"),
    (lambda I, H, L: 3 * (H * I + H * H) + 6 * H + (L - 1) * (3 * 2 * H * H + 6 * H), "three gate blocks"),
    (lambda I, H, L: L * (4 * (H * I + H * H) + 8 * H), "every layer reading input_size"),
    (lambda I, H, L: 4 * (H * I + H * H) + 8 * H, "one layer only"),
    (lambda I, H, L: 4 * H * I + 8 * H + (L - 1) * (4 * H * H + 8 * H), "no recurrent matrix"),
    (lambda I, H, L: _lstm_params(H, I, L), "input_size and hidden_size swapped"),
    (lambda I, H, L: _lstm_params(I, I, L), "input_size used for hidden_size"),
])
def test_check_lstm_params_names_each_usual_slip_on_its_first_case(slip, message):
    with pytest.raises(AssertionError, match=rf"^input_size=5, hidden_size=3, num_layers=2: .*{message}"):
        checks.check_lstm_params(slip)


def test_label_log_axis_labels_every_measured_value_and_legend_outside_moves_the_legend():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqlib import viz

    fig, ax = plt.subplots()
    ax.plot([64, 128, 256, 512], [1, 2, 3, 4], label="a")
    ax.set_xscale("log")
    viz.label_log_axis(ax, [64, 128, 256, 512, 128])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["64", "128", "256", "512"]
    assert ax.xaxis.get_minor_locator()() == []
    ax.legend()
    viz.legend_outside(ax)
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 > 1.0  # to the right of the axes, off the data
    with pytest.raises(ValueError, match="positive values"):
        viz.label_log_axis(ax, [0, 1])
    with pytest.raises(ValueError, match="axis must be 'x' or 'y'"):
        viz.label_log_axis(ax, [1], axis="z")
    _, bare = plt.subplots()
    with pytest.raises(ValueError, match="no legend to move"):
        viz.legend_outside(bare)
    plt.close("all")
