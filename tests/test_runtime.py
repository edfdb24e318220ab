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
    assert set(seqlib.__all__) == {"setup", "generator", "seed_everything", "numpy_rng", "glue", "data", "train", "viz", "recurrent", "models", "attention",
                                   "positions", "seq2seq", "checks", "transformer", "experiments", "bench",
                                   "forecast", "interpret", "linear_attention", "scan", "ssm", "verdicts", "__version__"}
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


def test_the_seed_offset_moves_every_generator(monkeypatch):
    monkeypatch.delenv("SEQLIB_SEED_OFFSET", raising=False)
    plain = {"generator": torch.rand(3, generator=seqlib.generator(7)),
             "numpy": seqlib.numpy_rng(7).random(3),
             "task": seqlib.data.parity_task(4, 6, seed=7).x}
    seqlib.seed_everything(7)
    plain["global"] = draws()
    monkeypatch.setenv("SEQLIB_SEED_OFFSET", "5")
    assert seqlib.runtime.seed_offset() == 5 and seqlib.runtime.shifted(2) == 7
    assert torch.equal(torch.rand(3, generator=seqlib.generator(2)), plain["generator"])
    assert np.array_equal(seqlib.numpy_rng(2).random(3), plain["numpy"])
    assert torch.equal(seqlib.data.parity_task(4, 6, seed=2).x, plain["task"])
    seqlib.setup(seed=2)
    assert draws() == plain["global"]
    assert not torch.equal(torch.rand(3, generator=seqlib.generator(7)), plain["generator"])


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", str(2**40)])
def test_a_bad_seed_offset_is_named_in_the_error(monkeypatch, raw):
    monkeypatch.setenv("SEQLIB_SEED_OFFSET", raw)
    with pytest.raises(ValueError, match="SEQLIB_SEED_OFFSET must be"):
        seqlib.generator(0)


def test_seeds_reach_the_generators_only_through_seqlib_runtime():
    """Elsewhere in seqlib a seed goes through runtime.generator or seed_everything, never straight
    to PyTorch or NumPy, so that SEQLIB_SEED_OFFSET reaches every draw."""
    import pathlib
    import re

    root = pathlib.Path(seqlib.__file__).parent
    direct = re.compile(r"manual_seed\(|default_rng\(|np\.random\.seed\(|random\.seed\(|RandomState\(")
    found = [f"{path.relative_to(root)}:{number}: {line.strip()}"
             for path in sorted(root.rglob("*.py")) if path.name != "runtime.py"
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if direct.search(line) and "already shifted" not in line and not line.lstrip().startswith("#")]
    assert not found, f"seeds that bypass seqlib.runtime (SEQLIB_SEED_OFFSET would not move them): {found}"


def test_bound_shows_a_rounding_error_as_the_bound_it_stays_under():
    from seqlib.prose import bound

    assert bound(3.0e-08, 1e-5) == "1e-5"
    assert bound(-2e-7, 1e-6) == "1e-6"
    assert bound(0.0, 5e-4) == "5e-4"
    for bad in (2e-5, float("nan"), float("inf")):
        with pytest.raises(AssertionError, match="not below 1e-05"):
            bound(bad, 1e-5)
    with pytest.raises(ValueError, match="limit must be a positive number"):
        bound(0.0, 0.0)
