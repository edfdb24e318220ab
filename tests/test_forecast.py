"""seqlib.forecast: the seasonal naive baseline against a loop, rolling-origin folds that never leak,
the backtest, the forecasters, clear errors, and the exercise's checker."""
import math

import numpy as np
import pytest
import torch

from seqlib import checks
from seqlib.data import make_windows
from seqlib.forecast import (Forecaster, Fold, backtest, mae, neural_forecast, rolling_origin, seasonal_naive)


def loop_seasonal_naive(y, horizon, season):
    """The definition, one value at a time: y_hat[n + h - 1] = y[n + h - 1 - s * ceil(h / s)]."""
    n = len(y)
    return [float(y[n + h - 1 - season * math.ceil(h / season)]) for h in range(1, horizon + 1)]


@pytest.mark.parametrize("n,horizon,season", [(24, 12, 12), (30, 5, 12), (40, 30, 12), (7, 7, 7), (9, 20, 4),
                                              (5, 3, 1)])
def test_seasonal_naive_matches_the_loop(n, horizon, season):
    y = np.random.default_rng(n).normal(size=n)
    assert seasonal_naive(y, horizon, season).tolist() == pytest.approx(loop_seasonal_naive(y, horizon, season))


def test_seasonal_naive_with_season_one_is_the_naive_forecast_and_leaves_input_alone():
    y = torch.tensor([1.0, 2.0, 3.0])
    assert seasonal_naive(y, 4, 1).tolist() == [3.0, 3.0, 3.0, 3.0]
    out = seasonal_naive(y, 2, 3)
    out[0] = 99.0
    assert y.tolist() == [1.0, 2.0, 3.0]


def test_seasonal_naive_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one season \\(12 values\\), got 5"):
        seasonal_naive(np.arange(5.0), 3, 12)
    with pytest.raises(ValueError, match="1-D series, got shape \\(2, 3\\)"):
        seasonal_naive(np.zeros((2, 3)), 3, 1)
    with pytest.raises(ValueError, match="horizon must be at least 1, got 0"):
        seasonal_naive(np.arange(5.0), 0, 1)
    with pytest.raises(TypeError, match="season must be an int"):
        seasonal_naive(np.arange(5.0), 1, 1.5)
    with pytest.raises(TypeError, match="1-D series of numbers"):
        seasonal_naive(["a", "b"], 1, 1)


def test_rolling_origin_tiles_the_end_of_the_series():
    folds = rolling_origin(100, 12, 3)
    assert [f.origin for f in folds] == [64, 76, 88]
    assert folds[-1].test[-1] == 99  # the last test window ends with the series
    for f in folds:
        assert f.train == range(0, f.origin) and len(f.test) == 12
        assert max(f.train) < min(f.test)  # every training index is before every test index
    assert [f.origin for f in rolling_origin(100, 12, 3, step=1)] == [86, 87, 88]


def test_rolling_origin_rejects_too_many_folds():
    with pytest.raises(ValueError, match="has room for 3 folds of horizon 12 with step 12 .* folds=5"):
        rolling_origin(40, 12, 5)
    with pytest.raises(ValueError, match="folds must be at least 1"):
        rolling_origin(40, 12, 0)
    with pytest.raises(TypeError, match="horizon must be an int"):
        rolling_origin(40, 1.0, 2)


def test_backtest_never_shows_the_future():
    """A forecaster that records what it saw; the future is NaN, so any peek would show."""
    y = np.arange(60.0)
    folds = rolling_origin(len(y), 6, 4)
    seen = []

    def spy(history):
        seen.append(history.clone())
        history[:] = -1.0  # writing to its copy must not change the series
        return torch.zeros(6)

    backtest(spy, y, folds)
    assert y.tolist() == list(np.arange(60.0))
    for fold, history in zip(folds, seen):
        assert len(history) == fold.origin and history.tolist() == list(range(fold.origin))


@pytest.mark.parametrize("kind", ["linear", "lstm", "transformer"])
def test_neural_forecast_trains_only_on_the_past(kind):
    """Values after the origin are NaN: a leak of any of them into training or input gives NaN forecasts."""
    t = np.arange(80.0)
    y = np.sin(2 * np.pi * t / 12) + 0.01 * t
    fold = rolling_origin(len(y), 6, 1)[0]
    poisoned = y.copy()
    poisoned[fold.origin:] = np.nan
    fc = neural_forecast(kind, 12, 6, epochs=1, d_model=8, nhead=2, hidden_size=8)
    out = backtest(fc, poisoned, [fold])
    assert np.isfinite(out["forecast"]).all() and len(out) == 6
    # and the training windows it builds from a history end before the origin
    x, target = make_windows(poisoned[:fold.origin], 12, 6)
    assert torch.isfinite(x).all() and torch.isfinite(target).all()


def test_linear_forecaster_is_exact_on_a_line_and_backtest_scores_it():
    y = 3.0 + 0.5 * np.arange(50.0)  # a straight line: the linear forecaster should continue it exactly
    folds = rolling_origin(len(y), 5, 2)
    result = backtest(neural_forecast("linear", 8, 5), y, folds)
    assert result["abs_error"].max() < 1e-3
    assert list(result.columns) == ["fold", "origin", "h", "actual", "forecast", "abs_error"]


def test_backtest_scores_the_seasonal_naive_forecast_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 3.5, 4.5])
    result = backtest(lambda h: seasonal_naive(h, 4, 4), y, [Fold(4, 4)])
    assert result["forecast"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert result["abs_error"].mean() == pytest.approx(0.5) == mae([1.0, 2.0, 3.0, 4.0], y[4:])


def test_backtest_rejects_bad_forecasts_and_folds():
    y = np.arange(20.0)
    with pytest.raises(ValueError, match="must return 4 values \\(the horizon\\) at fold 0, got 3"):
        backtest(lambda h: torch.zeros(3), y, [Fold(10, 4)])
    with pytest.raises(ValueError, match="forecasts up to index 21, but the series has 20 values"):
        backtest(lambda h: torch.zeros(4), y, [Fold(18, 4)])
    with pytest.raises(TypeError, match="Fold objects"):
        backtest(lambda h: torch.zeros(4), y, [(10, 4)])
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])


def test_forecaster_shapes_level_and_errors():
    for kind in ("linear", "lstm", "transformer"):
        model = Forecaster(kind, 10, 3, scale=2.0, d_model=8, nhead=2, hidden_size=4)
        x = torch.randn(5, 10)
        out = model(x)
        assert out.shape == (5, 3)
        # adding a constant to the window adds it to the forecast: the model sees the window relative to its level
        assert torch.allclose(model(x + 100.0), out + 100.0, atol=1e-4)
    with pytest.raises(ValueError, match="shape \\(batch, context\\) = \\(B, 10\\), got \\(5, 9\\)"):
        model(torch.randn(5, 9))
    with pytest.raises(ValueError, match="kind must be one of"):
        Forecaster("gru", 10, 3)
    with pytest.raises(ValueError, match="scale must be a positive finite number"):
        Forecaster("linear", 10, 3, scale=0.0)


def reference(history, horizon, season):
    return seasonal_naive(history, horizon, season)


def off_by_one(history, horizon, season):
    n = len(history)
    return torch.stack([history[n - season - 1 + (h % season)] for h in range(horizon)])


def no_wrap(history, horizon, season):
    n = len(history)
    return torch.stack([history[min(n - season + h, n - 1)] for h in range(horizon)])


def naive(history, horizon, season):
    return history[-1].repeat(horizon)


def test_check_seasonal_naive_passes_the_reference_and_names_mistakes():
    assert "all 7 cases agree" in checks.check_seasonal_naive(reference)
    with pytest.raises(AssertionError, match="one step too early"):
        checks.check_seasonal_naive(off_by_one)
    with pytest.raises(AssertionError, match="must wrap when horizon > season"):
        checks.check_seasonal_naive(no_wrap)
    with pytest.raises(AssertionError, match="naive forecast"):
        checks.check_seasonal_naive(naive)
    with pytest.raises(AssertionError, match="expected 12 forecasts"):
        checks.check_seasonal_naive(lambda h, H, s: h[:3])


def test_neural_forecast_with_val_windows_is_train_forecaster_early_stopped():
    from seqlib import forecast as fc

    history = torch.sin(torch.arange(120.0) * 2 * torch.pi / 12).double() + 0.01 * torch.arange(120.0).double()
    for kind, sizes in (("linear", {}), ("lstm", {"hidden_size": 4})):
        fn = fc.neural_forecast(kind, 24, 6, val_windows=8, epochs=30, patience=3, lr=1e-2, seed=1, **sizes)
        model, log, _ = fc.train_forecaster(kind, history, 24, 6, val_windows=8, epochs=30, patience=3, lr=1e-2,
                                            seed=1, **sizes)
        with torch.no_grad():
            expected = model(history[-24:].float()[None])[0]
        assert torch.equal(fn(history), expected)
        assert (log is None) == (kind == "linear")
