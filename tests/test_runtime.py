import random

import numpy as np
import pytest
import torch

import seqlib


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_setup_seeds_every_generator_and_uses_one_thread():
    seqlib.setup(seed=3)
    first = draws()
    assert torch.get_num_threads() == 1
    seqlib.setup(seed=3)
    assert draws() == first
    seqlib.setup(seed=4)
    assert draws() != first


def test_setup_returns_the_cpu_by_default():
    assert seqlib.setup() == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert seqlib.setup(device="auto").type == expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(device="tpu"), "device must be one of"),
    (dict(seed=-1), "seed must be a non-negative int"),
    (dict(threads=0), "threads must be a positive int"),
])
def test_setup_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        seqlib.setup(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_asking_for_cuda_without_a_gpu_is_an_error():
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        seqlib.setup(device="cuda")


def test_the_public_api_fits_on_one_screen():
    assert set(seqlib.__all__) == {"setup", "glue", "data", "train", "viz", "recurrent", "models", "attention",
                                   "positions", "seq2seq", "checks", "transformer", "experiments", "bench",
                                   "forecast", "interpret", "linear_attention", "scan", "ssm", "__version__"}
    for name in seqlib.__all__:
        assert getattr(seqlib, name) is not None, f"seqlib.{name} is listed but missing"
    assert len(seqlib.data.__all__) < 40


def test_glue_fallback_emits_exactly_what_myst_nb_emits(monkeypatch):
    import myst_nb.ext.glue as myst_glue_module

    import seqlib.prose as ours

    calls = []
    record = lambda *args, **kwargs: calls.append((args, kwargs))  # noqa: E731
    monkeypatch.setattr(myst_glue_module, "ipy_display", record)
    monkeypatch.setattr(ours, "ipy_display", record)
    for value in (0.5, "text", [1, 2]):
        for display in (True, False):
            myst_glue_module.glue("key", value, display=display)
            ours._fallback_glue("key", value, display=display)
            assert calls[-1] == calls[-2]
    seqlib.glue("key", 0.25)  # the public entry point goes through myst-nb here
    assert calls[-1][0][0] == {"application/papermill.record/text/plain": "0.25"}
    seqlib.glue("key", np.float64(0.5))  # NumPy and torch scalars become plain numbers
    assert calls[-1][0][0] == {"application/papermill.record/text/plain": "0.5"}
    seqlib.glue("key", torch.tensor(3))
    assert calls[-1][0][0] == {"application/papermill.record/text/plain": "3"}
