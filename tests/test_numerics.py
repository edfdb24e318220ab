"""Pinned CPU numerics: the variables in kernel.env fix PyTorch's code path, and each one matters.

The stored outputs of the chapters reproduce only if every kernel that executes them computes
along the same code path. These tests run a short training (numerics_probe.py) in fresh
processes: twice with the pin (the same loss to the last bit), then with one pinned variable
moved to another code path at a time (a different loss). On a processor not made by Intel one
more test shows why MKL is pinned to its COMPATIBLE branch: its AVX2 branch, reproducible on
Intel's processors, is not honoured there (the loss equals that of MKL's AUTO choice). On a machine where PyTorch can
not run its AVX2 kernels the first test fails: such a machine cannot reproduce the book's outputs.
"""
import os
import pathlib
import subprocess
import sys

import pytest

from nbval_isolation import KERNEL_ENV

PROBE = pathlib.Path(__file__).with_name("numerics_probe.py")
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"}
# Another code path for each variable, one that every x86-64 processor has.
OTHER = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "SSE41"}


def probe(**changes) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env.update(KERNEL_ENV, **changes)
    out = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True, check=True)
    loss, capability = out.stdout.split()
    return loss, capability


@pytest.fixture(scope="module")
def pinned():
    return probe()


def test_kernel_env_pins_all_three_code_paths():
    assert {k: KERNEL_ENV.get(k) for k in PINS} == PINS
    assert KERNEL_ENV["OMP_NUM_THREADS"] == KERNEL_ENV["MKL_NUM_THREADS"] == "1"


def test_the_pinned_run_takes_the_avx2_path_and_repeats_to_the_last_bit(pinned):
    loss, capability = pinned
    assert capability == "AVX2", (
        f"PyTorch runs its {capability} kernels here even with ATEN_CPU_CAPABILITY=avx2: this machine "
        "cannot reproduce the stored outputs (see the README, 'Which machines reproduce the outputs')")
    assert probe() == pinned


@pytest.mark.parametrize("variable", sorted(PINS))
def test_each_pinned_variable_changes_the_trained_loss(pinned, variable):
    loss, capability = probe(**{variable: OTHER[variable]})
    assert loss != pinned[0], (
        f"{variable}={OTHER[variable]} trained to the same loss as {variable}={PINS[variable]}: "
        "the variable no longer matters, so kernel.env need not pin it")


def cpu_flags() -> set[str]:
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return set(next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags")), "").split())


# The code paths an AVX-512 machine takes when nothing is pinned: each trains to another loss.
AVX512 = {"ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AVX512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}


@pytest.mark.skipif("avx512f" not in cpu_flags(), reason="shows what AVX-512 changes; this processor has none")
@pytest.mark.parametrize("variable", sorted(PINS))
def test_on_an_avx512_machine_each_unpinned_path_changes_the_loss(pinned, variable):
    loss, _ = probe(**{variable: AVX512[variable]})
    assert loss != pinned[0], f"{variable}={AVX512[variable]} gave the pinned loss {loss}"


def cpu_vendor() -> str:
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("vendor_id")), "")


@pytest.mark.skipif(cpu_vendor() in ("GenuineIntel", ""), reason="shows what MKL does on other vendors' processors")
def test_on_another_vendors_processor_mkl_ignores_its_avx2_branch(pinned):
    # the book pinned MKL_CBWR=AVX2,STRICT once: reproducible across Intel's processors, but on
    # AMD's MKL quietly takes its AUTO branch, so the stored outputs moved in the last digits
    assert probe(MKL_CBWR="AVX2,STRICT") == probe(MKL_CBWR="AUTO") != pinned
