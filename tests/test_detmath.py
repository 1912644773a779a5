"""Deterministic math: accurate against high-precision references, the same bits for scalars and arrays,
and the same bits whatever SIMD kernels numpy dispatches to."""

from __future__ import annotations

import hashlib
import math
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from decimal import Context, Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendepin import detmath

PRECISE = Context(prec=50)
RNG = np.random.default_rng(20260101)


def _ulps(got: float, reference: Decimal | float) -> float:
    """|got − reference| in units in the last place of the reference rounded to a double."""
    nearest = float(reference)
    if nearest == 0.0:
        return 0.0 if got == 0.0 else math.inf
    error = PRECISE.abs(PRECISE.subtract(Decimal(got), Decimal(reference)))
    return float(PRECISE.divide(error, Decimal(math.ulp(nearest))))


def _bits(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.float64).tobytes()


def _decimal_log1p(d: Decimal) -> Decimal:
    return PRECISE.ln(PRECISE.add(1, d))


DECIMAL_CASES: list[tuple[str, Callable[[float], float], Callable[[Decimal], Decimal], np.ndarray, float]] = [
    (
        "exp",
        detmath.exp,
        PRECISE.exp,
        np.concatenate([RNG.uniform(-745, 709, 3_000), RNG.uniform(-1, 1, 3_000)]),
        1.0,
    ),
    (
        "log",
        detmath.log,
        PRECISE.ln,
        np.concatenate([np.exp(RNG.uniform(-700, 700, 3_000)), RNG.uniform(0.5, 2.0, 3_000)]),
        1.0,
    ),
    (
        "log10",
        detmath.log10,
        PRECISE.log10,
        np.concatenate([np.exp(RNG.uniform(-700, 700, 3_000)), RNG.uniform(1.0, 1e5, 3_000)]),
        1.0,
    ),
    (
        "log1p",
        detmath.log1p,
        _decimal_log1p,
        np.concatenate([RNG.uniform(-0.9, 1e3, 3_000), np.exp(RNG.uniform(-40, 0, 3_000))]),
        2.5,
    ),
    (
        "pow10",
        detmath.pow10,
        lambda d: PRECISE.power(10, d),
        np.concatenate([RNG.uniform(-300, 300, 3_000), RNG.uniform(-2, 2, 3_000)]),
        1.5,
    ),
]


@pytest.mark.parametrize(("name", "function", "reference", "points", "bound"), DECIMAL_CASES)
def test_accuracy_against_decimal(
    name: str,
    function: Callable[[float], float],
    reference: Callable[[Decimal], Decimal],
    points: np.ndarray,
    bound: float,
) -> None:
    worst = max(_ulps(function(float(x)), reference(Decimal(float(x)))) for x in points)
    assert worst <= bound, (name, worst)


@pytest.mark.parametrize(
    ("function", "reference", "points"),
    [
        (detmath.sin, math.sin, RNG.uniform(-2 * math.pi, 2 * math.pi, 5_000)),
        (detmath.cos, math.cos, RNG.uniform(-2 * math.pi, 2 * math.pi, 5_000)),
        (detmath.sin, math.sin, RNG.uniform(-1e-3, 1e-3, 2_000)),
        (detmath.asin, math.asin, RNG.uniform(-1.0, 1.0, 5_000)),
        (detmath.asin, math.asin, RNG.uniform(0.97, 1.0, 2_000)),
    ],
)
def test_trigonometry_within_one_ulp_of_libm(
    function: Callable[[float], float], reference: Callable[[float], float], points: np.ndarray
) -> None:
    """The platform's libm is accurate to well under an ulp here; ours must stay within one of it."""
    worst = max(abs(function(float(x)) - reference(float(x))) / math.ulp(reference(float(x))) for x in points)
    assert worst <= 1.0


def test_special_values() -> None:
    assert detmath.exp(0.0) == 1.0 and detmath.exp(1_000.0) == math.inf and detmath.exp(-1_000.0) == 0.0
    assert detmath.log(1.0) == 0.0 and detmath.log(0.0) == -math.inf and math.isnan(detmath.log(-1.0))
    assert detmath.log10(1_000.0) == 3.0 and detmath.log10(1e-300) == -300.0
    assert detmath.log1p(0.0) == 0.0 and detmath.log1p(1e-300) == 1e-300
    assert detmath.pow10(2.0) == 100.0 and detmath.pow10(0.0) == 1.0
    assert detmath.asin(1.0) == math.pi / 2 and detmath.asin(-1.0) == -math.pi / 2
    assert math.isnan(detmath.asin(1.5))
    assert detmath.sin(0.0) == 0.0 and detmath.cos(0.0) == 1.0
    with pytest.raises(ValueError, match="must be"):
        detmath.sin(1e6)
    arrays = detmath.log(np.array([0.0, -1.0, np.inf, 1.0]))
    assert arrays[0] == -np.inf and np.isnan(arrays[1]) and arrays[2] == np.inf and arrays[3] == 0.0


FUNCTIONS: dict[str, tuple[Callable[..., object], st.SearchStrategy[float]]] = {
    "exp": (detmath.exp, st.floats(-800, 800)),
    "log": (detmath.log, st.floats(min_value=0.0, allow_infinity=False, allow_nan=False)),
    "log10": (detmath.log10, st.floats(min_value=0.0, allow_infinity=False, allow_nan=False)),
    "log1p": (detmath.log1p, st.floats(min_value=-0.999, max_value=1e300)),
    "pow10": (detmath.pow10, st.floats(-400, 400)),
    "sin": (detmath.sin, st.floats(-detmath.TRIG_MAX_ARGUMENT, detmath.TRIG_MAX_ARGUMENT)),
    "cos": (detmath.cos, st.floats(-detmath.TRIG_MAX_ARGUMENT, detmath.TRIG_MAX_ARGUMENT)),
    "asin": (detmath.asin, st.floats(-1.0, 1.0)),
    "sqrt": (detmath.sqrt, st.floats(min_value=0.0, allow_infinity=False, allow_nan=False)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@given(data=st.data())
def test_scalar_and_array_paths_give_the_same_bits(name: str, data: st.DataObject) -> None:
    function, strategy = FUNCTIONS[name]
    values = data.draw(st.lists(strategy, min_size=1, max_size=8))
    array = function(np.array(values, dtype=np.float64))
    assert isinstance(array, np.ndarray)
    for value, element in zip(values, array.tolist(), strict=True):
        scalar = function(value)
        assert isinstance(scalar, float)
        assert struct.pack("<d", scalar) == struct.pack("<d", element), (name, value, scalar, element)


def test_fixed_order_sum_is_pairwise_and_layout_independent() -> None:
    values = RNG.normal(0.0, 1e6, (7, 13))
    total = detmath.sum_last(values)
    manual = values[:, 0].copy() * 0.0
    padded = np.concatenate([values, np.zeros((7, 3))], axis=1)
    while padded.shape[1] > 1:
        half = padded.shape[1] // 2
        padded = padded[:, :half] + padded[:, half:]
    manual = padded[:, 0]
    assert _bits(total) == _bits(manual)
    assert _bits(detmath.sum_last(np.asfortranarray(values))) == _bits(total)
    assert detmath.sum_last(np.zeros((3, 0))).tolist() == [0.0, 0.0, 0.0]



def _padded_pairwise_sum(values: np.ndarray) -> np.ndarray:
    """The rule `sum_last` implements, written plainly: zero-pad the last axis to a power of two, then add
    halves until one value is left."""
    width = values.shape[-1]
    padded = 1 << (width - 1).bit_length()
    values = np.concatenate([values, np.zeros((*values.shape[:-1], padded - width))], axis=-1)
    while values.shape[-1] > 1:
        half = values.shape[-1] // 2
        values = values[..., :half] + values[..., half:]
    return values[..., 0]


@given(
    rows=st.integers(1, 5),
    width=st.integers(1, 70),
    data=st.data(),
)
def test_fixed_order_sum_is_the_zero_padded_pairwise_sum_bit_for_bit(
    rows: int, width: int, data: st.DataObject
) -> None:
    """Signed zeros included: a −0.0 that meets the padding comes out +0.0, as it does padded."""
    element = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from([0.0, -0.0])
    values = np.array(
        data.draw(st.lists(element, min_size=rows * width, max_size=rows * width)), dtype=np.float64
    ).reshape(rows, width)
    assert _bits(detmath.sum_last(values)) == _bits(_padded_pairwise_sum(values))

DIGEST_SCRIPT = """
import hashlib, numpy as np
from opendepin import detmath
rng = np.random.default_rng(5)
x = rng.uniform(-700.0, 700.0, 200_001)
parts = [
    detmath.exp(x), detmath.log(np.abs(x) + 1e-3), detmath.log10(np.abs(x) + 1.0),
    detmath.log1p(np.abs(x)), detmath.pow10(x / 3.0), detmath.sin(x / 100.0), detmath.cos(x / 100.0),
    detmath.asin(x / 700.0), detmath.sum_last(x.reshape(-1, 3)),
]
print(hashlib.sha256(b"".join(p.tobytes() for p in parts)).hexdigest())
"""


def simd_disabled_env() -> dict[str, str]:
    """Environment that turns off every SIMD target numpy dispatches to on this machine (AVX2, FMA3,
    AVX-512 … under whatever names this numpy version uses) and makes OpenBLAS use generic kernels."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    dispatch = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    return {"NPY_DISABLE_CPU_FEATURES": " ".join(dispatch), "OPENBLAS_CORETYPE": "Prescott"}


def test_same_bits_with_numpy_simd_kernels_disabled() -> None:
    src = str(Path(detmath.__file__).resolve().parents[1])
    runs = []
    for extra in ({}, simd_disabled_env()):
        env = {**os.environ, "PYTHONPATH": src, **extra}
        result = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        runs.append(result.stdout.strip())
    assert runs[0] == runs[1]
    assert len(runs[0]) == 64 and hashlib.sha256(b"").hexdigest() != runs[0]


@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(-1e4, 1e4),
            st.integers(-(10**7), 10**7).map(lambda k: k / 1000 + 0.0),
            st.integers(-(10**7), 10**7).map(lambda k: (2 * k + 1) / 200),
        ),
        max_size=60,
    ),
    digits=st.sampled_from([0, 1, 2, 3, 6]),
)
def test_round_like_python_equals_round_bit_for_bit(values: list[float], digits: int) -> None:
    """Ties, near-ties (k/1000, odd multiples of 1/200), huge, infinite and NaN values included."""
    got = detmath.round_like_python(np.array(values, dtype=np.float64), digits)
    expected = [round(v, digits) for v in values]
    assert all(type(g) is float for g in got)
    assert _bits(np.array(got, dtype=np.float64)) == _bits(np.array(expected, dtype=np.float64))


@pytest.mark.parametrize("function", [detmath.log, detmath.log10])
@given(
    values=st.lists(
        st.floats(min_value=5e-324, allow_infinity=False, allow_nan=False), min_size=1, max_size=8
    ),
    special=st.sampled_from([None, 0.0, -0.0, -1.0, math.inf, -math.inf, math.nan]),
)
def test_logarithms_of_regular_and_special_arrays_equal_the_scalars(
    function: Callable[..., object], values: list[float], special: float | None
) -> None:
    """An all-positive, finite array takes the path without special values; one special element sends
    the whole array through the other: element for element, both give the scalar's bits."""
    inputs = values if special is None else [*values, special]
    array = function(np.array(inputs, dtype=np.float64))
    assert isinstance(array, np.ndarray)
    for value, element in zip(inputs, array.tolist(), strict=True):
        assert struct.pack("<d", function(value)) == struct.pack("<d", element), (value, element)
