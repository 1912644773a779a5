"""Deterministic elementary functions: the same bits on every IEEE-754 machine, for scalars and arrays.

Why: an epoch must be recomputable bit for bit anywhere, but the platform's `libm` and numpy's per-CPU SIMD
kernels (AVX2 / AVX-512 versions of exp, log, sin, power …) may differ in the last bits from machine to
machine, and a rule with a threshold turns one bit into a different verdict. Every function here is built
from range reduction and a fixed polynomial evaluated with the correctly rounded IEEE-754 operations only
(+ − × ÷ and √), plus the exact `frexp` / `ldexp` / `floor` / `trunc`, in a fixed order. Python floats and
numpy float64 arrays implement those operations identically, so a scalar and an array element give the
same bits (tested), whatever CPU features numpy dispatches to (tested with `NPY_DISABLE_CPU_FEATURES`).

The algorithms and coefficients are those of fdlibm (Sun Microsystems, freely redistributable) as kept in
FreeBSD's and musl's libm: `exp` (e_exp.c), `log` / `log10` (e_log.c, e_log10.c), the sin / cos kernels
(k_sin.c, k_cos.c) with Cody–Waite reduction by π/2, and `asin` (e_asin.c); the originals' exponent
manipulations are done with `frexp` / `ldexp`, and clearing a double's low word with an exact bit mask.
Measured accuracy (tests/test_detmath.py): ≤ 1 ulp for exp, log, log10, sin, cos, asin; ≤ 1.5 ulp for
pow10; ≤ 2.5 ulp for log1p.

Sums: `sum_last` adds along the last axis in a fixed pairwise order (numpy's own reductions may change
their order with the memory layout or the version).
"""

from __future__ import annotations

import math
import struct
from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _from_bits(bits: int) -> float:
    return float(struct.unpack(">d", bits.to_bytes(8, "big"))[0])


# exp (fdlibm e_exp.c)
_EXP_OVERFLOW = 7.09782712893383973096e02
_EXP_UNDERFLOW = -7.45133219101941108420e02
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08

# log, log10 (fdlibm e_log.c, e_log10.c)
_LOG_SPLIT = _from_bits(0x3FE6A09E00000000)
"""Mantissas below this (≈ √2/2) are doubled, so that 1 + f lies in [√2/2, √2)."""
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_IVLN10_HI = 4.34294481878168880939e-01
_IVLN10_LO = 2.50829467116452752298e-11
_LOG10_2_HI = 3.01029995663611771306e-01
_LOG10_2_LO = 3.69423907715893078616e-13

# pow10
_LOG2_10 = 3.32192809488736218171e00
_LN10 = 2.30258509299404568402e00
_POW10_OVERFLOW = 308.2547155599167
_POW10_UNDERFLOW = -323.60724533877976

# sin, cos (fdlibm k_sin.c, k_cos.c, e_rem_pio2.c medium case)
_INV_PIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e00
_PIO2_1T = 6.07710050650619224932e-11
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
TRIG_MAX_ARGUMENT = 1.0e5
"""sin and cos reduce by π/2 in two parts: exact for |x| up to here (callers pass angles ≤ 2π)."""

# asin (fdlibm e_asin.c)
_PIO2_HI = 1.57079632679489655800e00
_PIO2_LO = 6.12323399573676603587e-17
_PIO4_HI = 7.85398163397448278999e-01
_PS0 = 1.66666666666666657415e-01
_PS1 = -3.25565818622400915405e-01
_PS2 = 2.01212532134862925881e-01
_PS3 = -4.00555345006794114027e-02
_PS4 = 7.91534994289814532176e-04
_PS5 = 3.47933107596021167570e-05
_QS1 = -2.40339491173441421878e00
_QS2 = 2.02094576023350569471e00
_QS3 = -6.88283971605453293030e-01
_QS4 = 7.70381505559019352791e-02

_HIGH_WORD = 0xFFFFFFFF00000000
DEG_TO_RAD = 0.017453292519943295
"""π/180 rounded to the nearest double."""


# exact primitives, each with a scalar and an array form that give the same bits
def _floor(x: float | FloatArray) -> float | FloatArray:
    if isinstance(x, np.ndarray):
        return np.floor(x)
    return float(math.floor(x))


def _frexp(x: float | FloatArray) -> tuple[float | FloatArray, float | FloatArray]:
    """x = m·2^e with |m| in [0.5, 1); the exponent is returned as a float (exact)."""
    if isinstance(x, np.ndarray):
        m, e = np.frexp(x)
        return m, e.astype(np.float64)
    m, e = math.frexp(x)
    return m, float(e)


def _ldexp(m: float | FloatArray, e: float | FloatArray) -> float | FloatArray:
    """m·2^e, rounded once (exact unless the result is subnormal)."""
    if isinstance(m, np.ndarray) or isinstance(e, np.ndarray):
        return np.ldexp(m, np.asarray(e).astype(np.int32))
    return math.ldexp(m, int(e))


def _where(
    condition: bool | npt.NDArray[np.bool_], a: float | FloatArray, b: float | FloatArray
) -> float | FloatArray:
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    return a if condition else b


def _trunc_high(x: float | FloatArray) -> float | FloatArray:
    """x with the low 32 bits of its encoding cleared (its high word, as fdlibm uses it): exact."""
    if isinstance(x, np.ndarray):
        return (x.view(np.uint64) & np.uint64(_HIGH_WORD)).view(np.float64)
    return _from_bits(struct.unpack(">Q", struct.pack(">d", x))[0] & _HIGH_WORD)


def _as_input(x: float | npt.ArrayLike) -> float | FloatArray:
    if type(x) is float:
        return x
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    if isinstance(x, int | float):
        return float(x)
    return np.asarray(x, dtype=np.float64)


@overload
def sqrt(x: float) -> float: ...
@overload
def sqrt(x: FloatArray) -> FloatArray: ...
def sqrt(x: float | FloatArray) -> float | FloatArray:
    """Square root (correctly rounded by IEEE-754 on every machine)."""
    if isinstance(x, np.ndarray):
        return np.sqrt(x)
    return math.sqrt(x)


# exp
def _exp_reduced(x: float | FloatArray) -> float | FloatArray:
    """e^x for x within the thresholds: k = round(x/ln2), r = x − k·ln2 (two parts), rational kernel."""
    k = _floor(x * _INV_LN2 + 0.5)
    hi = x - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    return _ldexp(y, k)


@overload
def exp(x: float) -> float: ...
@overload
def exp(x: FloatArray) -> FloatArray: ...
def exp(x: float | FloatArray) -> float | FloatArray:
    """e^x (fdlibm e_exp.c); +inf above 709.78, 0 below −745.13, nan for nan."""
    x = _as_input(x)
    if isinstance(x, np.ndarray):
        bad = np.isnan(x)
        clipped = np.where(bad, 0.0, np.clip(x, _EXP_UNDERFLOW - 1.0, _EXP_OVERFLOW))
        out = _exp_reduced(clipped)
        out = np.where(x > _EXP_OVERFLOW, np.inf, np.where(x < _EXP_UNDERFLOW, 0.0, out))
        return np.where(bad, np.nan, out)
    if math.isnan(x):
        return math.nan
    if x > _EXP_OVERFLOW:
        return math.inf
    if x < _EXP_UNDERFLOW:
        return 0.0
    return float(_exp_reduced(x))


# log, log10, log1p
def _log_reduce(x: float | FloatArray) -> tuple[float | FloatArray, float | FloatArray]:
    """x = 2^k·(1 + f) with 1 + f in [√2/2, √2) (exact)."""
    m, e = _frexp(x)
    small = m < _LOG_SPLIT
    return _where(small, m + m, m) - 1.0, _where(small, e - 1.0, e)


def _log_kernel(f: float | FloatArray) -> tuple[float | FloatArray, float | FloatArray, float | FloatArray]:
    """hfsq = f²/2, s = f/(2 + f) and the minimax remainder R of log(1 + f) (fdlibm e_log.c)."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    return hfsq, s, t2 + t1


def _log_domain(x: float | FloatArray, finite: float | FloatArray) -> float | FloatArray:
    """Special values of a logarithm: −inf at 0, nan below 0 or for nan, +inf at +inf."""
    if isinstance(x, np.ndarray):
        out = np.where(x == 0.0, -np.inf, finite)
        out = np.where(np.isposinf(x), np.inf, out)
        return np.where((x < 0.0) | np.isnan(x), np.nan, out)
    if x == 0.0:
        return -math.inf
    if math.isnan(x) or x < 0.0:
        return math.nan
    if math.isinf(x):
        return math.inf
    return finite


def _all_positive_finite(x: float | FloatArray) -> bool:
    """An array whose every element is positive and finite (min > 0, max < inf; NaN fails both): its
    logarithm needs no special values, so `_safe_positive` and `_log_domain` would return it unchanged."""
    return isinstance(x, np.ndarray) and x.size > 0 and bool(x.min() > 0.0) and bool(x.max() < math.inf)


def _safe_positive(x: float | FloatArray) -> float | FloatArray:
    if isinstance(x, np.ndarray):
        return np.where((x > 0.0) & np.isfinite(x), x, 1.0)
    return x if x > 0.0 and math.isfinite(x) else 1.0


@overload
def log(x: float) -> float: ...
@overload
def log(x: FloatArray) -> FloatArray: ...
def log(x: float | FloatArray) -> float | FloatArray:
    """Natural logarithm (fdlibm e_log.c)."""
    x = _as_input(x)
    regular = _all_positive_finite(x)
    f, k = _log_reduce(x if regular else _safe_positive(x))
    hfsq, s, r = _log_kernel(f)
    value = s * (hfsq + r) + k * _LN2_LO - hfsq + f + k * _LN2_HI
    return value if regular else _log_domain(x, value)


@overload
def log10(x: float) -> float: ...
@overload
def log10(x: FloatArray) -> FloatArray: ...
def log10(x: float | FloatArray) -> float | FloatArray:
    """Base-10 logarithm with the extra-precision recombination of fdlibm e_log10.c."""
    x = _as_input(x)
    regular = _all_positive_finite(x)
    f, k = _log_reduce(x if regular else _safe_positive(x))
    hfsq, s, r = _log_kernel(f)
    hi = _trunc_high(f - hfsq)
    lo = f - hi - hfsq + s * (hfsq + r)
    val_hi = hi * _IVLN10_HI
    y = k * _LOG10_2_HI
    val_lo = k * _LOG10_2_LO + (lo + hi) * _IVLN10_LO + lo * _IVLN10_HI
    w = y + val_hi
    val_lo = val_lo + ((y - w) + val_hi)
    return val_lo + w if regular else _log_domain(x, val_lo + w)


@overload
def log1p(x: float) -> float: ...
@overload
def log1p(x: FloatArray) -> FloatArray: ...
def log1p(x: float | FloatArray) -> float | FloatArray:
    """log(1 + x), accurate for small x: log(w)·x/(w − 1) with w = 1 + x rounded (Kahan's method)."""
    x = _as_input(x)
    w = 1.0 + x
    d = w - 1.0
    exact = d == 0.0
    ratio = x / _where(exact, 1.0, d)
    return _where(exact, x, log(w) * ratio)


# pow10
@overload
def pow10(y: float) -> float: ...
@overload
def pow10(y: FloatArray) -> FloatArray: ...
def pow10(y: float | FloatArray) -> float | FloatArray:
    """10^y = 2^k · e^(r·ln10) with k = round(y·log2 10) and r = y − k·log10 2 (two-part constant)."""
    y = _as_input(y)
    if isinstance(y, np.ndarray):
        bad = np.isnan(y)
        clipped = np.where(bad, 0.0, np.clip(y, _POW10_UNDERFLOW - 1.0, _POW10_OVERFLOW))
        out = _pow10_reduced(clipped)
        out = np.where(y > _POW10_OVERFLOW, np.inf, np.where(y < _POW10_UNDERFLOW, 0.0, out))
        return np.where(bad, np.nan, out)
    if math.isnan(y):
        return math.nan
    if y > _POW10_OVERFLOW:
        return math.inf
    if y < _POW10_UNDERFLOW:
        return 0.0
    return float(_pow10_reduced(y))


def _pow10_reduced(y: float | FloatArray) -> float | FloatArray:
    k = _floor(y * _LOG2_10 + 0.5)
    r = (y - k * _LOG10_2_HI) - k * _LOG10_2_LO
    return _ldexp(_exp_reduced(r * _LN10), k)


# sin, cos
def _kernel_sin(x: float | FloatArray, y: float | FloatArray) -> float | FloatArray:
    """sin(x + y) for |x + y| ≤ π/4, y the tail of the reduced argument (fdlibm k_sin.c)."""
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    v = z * x
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


def _kernel_cos(x: float | FloatArray, y: float | FloatArray) -> float | FloatArray:
    """cos(x + y) for |x + y| ≤ π/4 (fdlibm k_cos.c, FreeBSD form)."""
    z = x * x
    w = z * z
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


def _reduce_pio2(
    x: float | FloatArray,
) -> tuple[float | FloatArray, float | FloatArray, float | FloatArray]:
    """x = n·π/2 + (y0 + y1), |y0 + y1| ≤ π/4; returns (n mod 4, y0, y1) (fdlibm e_rem_pio2.c)."""
    n = _floor(x * _INV_PIO2 + 0.5)
    r = x - n * _PIO2_1
    w = n * _PIO2_1T
    y0 = r - w
    y1 = (r - y0) - w
    return n - 4.0 * _floor(n * 0.25), y0, y1


def _check_trig(x: float | FloatArray) -> float | FloatArray:
    x = _as_input(x)
    if isinstance(x, np.ndarray):
        if x.size and not bool(np.all(np.abs(x) <= TRIG_MAX_ARGUMENT)):
            raise ValueError(f"detmath sin/cos: |x| must be ≤ {TRIG_MAX_ARGUMENT:g}")
    elif not abs(x) <= TRIG_MAX_ARGUMENT:
        raise ValueError(f"detmath sin/cos: |x| must be ≤ {TRIG_MAX_ARGUMENT:g}, got {x!r}")
    return x


@overload
def sin(x: float) -> float: ...
@overload
def sin(x: FloatArray) -> FloatArray: ...
def sin(x: float | FloatArray) -> float | FloatArray:
    """Sine of x radians, |x| ≤ TRIG_MAX_ARGUMENT."""
    q, y0, y1 = _reduce_pio2(_check_trig(x))
    s, c = _kernel_sin(y0, y1), _kernel_cos(y0, y1)
    return _where(q == 0.0, s, _where(q == 1.0, c, _where(q == 2.0, -s, -c)))


@overload
def cos(x: float) -> float: ...
@overload
def cos(x: FloatArray) -> FloatArray: ...
def cos(x: float | FloatArray) -> float | FloatArray:
    """Cosine of x radians, |x| ≤ TRIG_MAX_ARGUMENT."""
    q, y0, y1 = _reduce_pio2(_check_trig(x))
    s, c = _kernel_sin(y0, y1), _kernel_cos(y0, y1)
    return _where(q == 0.0, c, _where(q == 1.0, -s, _where(q == 2.0, -c, s)))


# asin
def _asin_ratio(t: float | FloatArray) -> float | FloatArray:
    p = t * (_PS0 + t * (_PS1 + t * (_PS2 + t * (_PS3 + t * (_PS4 + t * _PS5)))))
    q = 1.0 + t * (_QS1 + t * (_QS2 + t * (_QS3 + t * _QS4)))
    return p / q


@overload
def asin(x: float) -> float: ...
@overload
def asin(x: FloatArray) -> FloatArray: ...
def asin(x: float | FloatArray) -> float | FloatArray:
    """Arc sine in radians for |x| ≤ 1 (fdlibm e_asin.c); nan outside."""
    x = _as_input(x)
    a = abs(x) if not isinstance(x, np.ndarray) else np.abs(x)
    inside = a <= 1.0
    a = _where(inside, a, 0.0)
    small = a + a * _asin_ratio(a * a)
    t = (1.0 - a) * 0.5
    ratio = _asin_ratio(t)
    s = sqrt(t)
    near_one = _PIO2_HI - (2.0 * (s + s * ratio) - _PIO2_LO)
    w = _trunc_high(s)
    c = (t - w * w) / (s + _where(s + w == 0.0, 1.0, w))
    p = 2.0 * s * ratio - (_PIO2_LO - 2.0 * c)
    middle = _PIO4_HI - (p - (_PIO4_HI - 2.0 * w))
    value = _where(a < 0.5, small, _where(a >= 0.975, near_one, middle))
    signed = _where(x < 0.0, -value, value)
    return _where(inside, signed, math.nan)


# fixed-order sums
def sum_last(values: FloatArray) -> FloatArray:
    """Σ over the last axis in a fixed pairwise order (zero-padded to a power of two, halves added)."""
    values = np.asarray(values, dtype=np.float64)
    width = values.shape[-1]
    if width == 0:
        return np.zeros(values.shape[:-1])
    padded = 1 << (width - 1).bit_length()
    if padded != width:
        # the first halving of the zero-padded values, without the padding: the values that meet a pad
        # get + 0.0 as they would (which turns a −0.0 into +0.0: the very bits of the padded sum)
        half = padded // 2
        first = np.empty((*values.shape[:-1], half))
        np.add(values[..., : width - half], values[..., half:], out=first[..., : width - half])
        np.add(values[..., width - half : half], 0.0, out=first[..., width - half :])
        values, padded = first, half
    while padded > 1:
        padded //= 2
        values = values[..., :padded] + values[..., padded:]
    return values[..., 0]


# Python's decimal rounding, many values at once
_TIE_MARGIN = 1e-6
_FAST_LIMIT = 1e9


def round_like_python(values: FloatArray, digits: int) -> list[float]:
    """`[round(x, digits) for x in values]` (Python's correctly rounded, half-even decimal rounding), with
    the bulk done in numpy.

    x·10^d rounded to the nearest integer k, then k / 10^d: both operations are correctly rounded, and
    k / 10^d is the double nearest the decimal k·10^-d, which is what Python's `round` returns, so the two
    agree whenever k is the integer nearest the exact x·10^d. The product's rounding error is far below
    `_TIE_MARGIN` while |x·10^d| < `_FAST_LIMIT`, so k can only differ near a tie: values within the margin
    of one, beyond the limit, or not finite are rounded by Python's `round` itself."""
    array = np.asarray(values, dtype=np.float64)
    scale = 10.0**digits
    scaled = array * scale
    nearest = np.rint(scaled)
    with np.errstate(invalid="ignore"):
        near_tie = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) <= _TIE_MARGIN
        slow = ~(np.abs(scaled) < _FAST_LIMIT) | near_tie
    result = (nearest / scale).tolist()
    for i in np.flatnonzero(slow).tolist():
        result[i] = round(float(array[i]), digits)
    return result
