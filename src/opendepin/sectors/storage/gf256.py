"""Reed-Solomon arithmetic over GF(2⁸) compatible with zfec, and error location (Berlekamp-Welch).

zfec encodes k primary blocks into n shares such that byte j of every share is one codeword: the values
at the points `share_points(n)` = [0, α⁰, α¹, …, α^(n−2)] of one polynomial of degree < k (α = 2, field
polynomial x⁸ + x⁴ + x³ + x² + 1 = 0x11d; checked against zfec's own encoder in the tests). So an auditor
who holds one stripe (the same byte range) from m ≥ k holders can tell which holders' bytes are wrong
without any stored checksum: decode every byte column with errors (Berlekamp-Welch, up to ⌊(m − k)/2⌋
wrong shares) and name the shares that disagree with the decoded polynomial (Storj's audit trick).
Pure Python, no I/O: the epoch runs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FIELD_POLY = 0x11D
EXP = [0] * 512
LOG = [0] * 256
_x = 1
for _i in range(255):
    EXP[_i] = _x
    LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= FIELD_POLY
for _i in range(255, 512):
    EXP[_i] = EXP[_i - 255]


MUL_TABLE = np.zeros((256, 256), dtype=np.uint8)
for _a in range(1, 256):
    for _b in range(1, 256):
        MUL_TABLE[_a, _b] = EXP[LOG[_a] + LOG[_b]]


def mul(a: int, b: int) -> int:
    """Product in GF(2⁸)."""
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def inv(a: int) -> int:
    """Multiplicative inverse in GF(2⁸) (a ≠ 0)."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    return EXP[255 - LOG[a]]


def share_points(n: int) -> list[int]:
    """The evaluation point of each share number 0..n−1, as zfec builds its encoding matrix."""
    if not 1 <= n <= 256:
        raise ValueError("zfec shares number 1..256")
    return [0, *(EXP[i] for i in range(n - 1))]


def poly_eval(coeffs: Sequence[int], x: int) -> int:
    """Horner evaluation; coefficients from the constant term up."""
    acc = 0
    for c in reversed(coeffs):
        acc = mul(acc, x) ^ c
    return acc


def interpolate(xs: Sequence[int], ys: Sequence[int]) -> list[int]:
    """The coefficients (constant first) of the unique polynomial of degree < len(xs) through the points."""
    size = len(xs)
    result = [0] * size
    for i in range(size):
        basis = [1]
        denom = 1
        for j in range(size):
            if j == i:
                continue
            basis = [0, *basis]
            for t in range(len(basis) - 1):
                basis[t] ^= mul(basis[t + 1], xs[j])
            denom = mul(denom, xs[i] ^ xs[j])
        scale = mul(ys[i], inv(denom))
        for t in range(size):
            result[t] ^= mul(basis[t], scale)
    return result


def _solve(rows: list[list[int]], unknowns: int) -> list[int] | None:
    """One solution of a linear system over GF(2⁸) (augmented rows), free variables set to 0; None if none."""
    matrix = [row[:] for row in rows]
    pivots: list[int] = []
    r = 0
    for col in range(unknowns):
        pivot = next((i for i in range(r, len(matrix)) if matrix[i][col]), None)
        if pivot is None:
            continue
        matrix[r], matrix[pivot] = matrix[pivot], matrix[r]
        scale = inv(matrix[r][col])
        matrix[r] = [mul(v, scale) for v in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][col]:
                factor = matrix[i][col]
                matrix[i] = [a ^ mul(factor, b) for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(col)
        r += 1
    if any(row[-1] and not any(row[:-1]) for row in matrix[r:]):
        return None
    solution = [0] * unknowns
    for i, col in enumerate(pivots):
        solution[col] = matrix[i][-1]
    return solution


def _divide(numerator: list[int], denominator: list[int]) -> tuple[list[int], list[int]]:
    """Polynomial long division (coefficients constant first): quotient, remainder."""
    num = numerator[:]
    while len(denominator) > 1 and denominator[-1] == 0:
        denominator = denominator[:-1]
    lead_inv = inv(denominator[-1])
    quotient = [0] * max(1, len(num) - len(denominator) + 1)
    for shift in range(len(num) - len(denominator), -1, -1):
        coef = mul(num[shift + len(denominator) - 1], lead_inv)
        quotient[shift] = coef
        if coef:
            for t, d in enumerate(denominator):
                num[shift + t] ^= mul(coef, d)
    return quotient, num[: len(denominator) - 1]


def locate_errors(k: int, xs: Sequence[int], ys: Sequence[int]) -> list[int] | None:
    """Positions (indices into xs) whose values disagree with the one polynomial of degree < k that agrees
    with all but at most ⌊(m − k)/2⌋ of the m values (Berlekamp-Welch); None when no such polynomial
    exists (too many wrong values to tell who lied)."""
    m = len(xs)
    if m < k:
        return None
    if m == k or _agree(k, xs, ys):
        return []
    e = (m - k) // 2
    if e == 0:
        return None
    # unknowns: Q (k + e coefficients), then E's e low coefficients (E monic of degree e)
    unknowns = k + 2 * e
    rows = []
    for x, y in zip(xs, ys, strict=True):
        powers = [1]
        for _ in range(k + e):
            powers.append(mul(powers[-1], x))
        row = powers[: k + e] + [mul(y, powers[t]) for t in range(e)]
        rows.append([*row, mul(y, powers[e])])
    solution = _solve(rows, unknowns)
    if solution is None:
        return None
    q, e_poly = solution[: k + e], [*solution[k + e :], 1]
    p, remainder = _divide(q, e_poly)
    if any(remainder):
        return None
    wrong = [i for i, (x, y) in enumerate(zip(xs, ys, strict=True)) if poly_eval(p[:k], x) != y]
    return wrong if len(wrong) <= e else None


def _agree(k: int, xs: Sequence[int], ys: Sequence[int]) -> bool:
    """Do all m values lie on the polynomial through the first k?"""
    coeffs = interpolate(xs[:k], ys[:k])
    return all(poly_eval(coeffs, x) == y for x, y in zip(xs[k:], ys[k:], strict=True))


def locate_wrong_shares(k: int, n: int, shares: dict[int, bytes]) -> list[int] | None:
    """Share numbers whose stripe bytes are wrong, from one stripe (equal-length byte strings) per share
    number; None when too many are wrong to decide. Columns are checked quickly against the polynomial
    through the first k shares, and only the columns that disagree are decoded with errors."""
    numbers = sorted(shares)
    if len({len(shares[i]) for i in numbers}) > 1:
        raise ValueError("stripes of one audit must have equal length")
    points = share_points(n)
    xs = [points[i] for i in numbers]
    length = len(shares[numbers[0]]) if numbers else 0
    if len(numbers) < k:
        return None
    if len(numbers) == k or length == 0:
        return []
    matrix = np.frombuffer(b"".join(shares[i] for i in numbers), dtype=np.uint8).reshape(len(numbers), length)
    basis = _lagrange_rows(xs[:k], xs[k:])
    disagree = np.zeros(length, dtype=bool)
    for row, values in zip(basis, matrix[k:], strict=True):
        predicted = np.zeros(length, dtype=np.uint8)
        for weight, base in zip(row, matrix[:k], strict=True):
            predicted ^= MUL_TABLE[weight][base]
        disagree |= predicted != values
    wrong: set[int] = set()
    for col in np.flatnonzero(disagree).tolist():
        located = locate_errors(k, xs, matrix[:, col].tolist())
        if located is None:
            return None
        wrong.update(numbers[i] for i in located)
    return sorted(wrong)


def _lagrange_rows(base: Sequence[int], targets: Sequence[int]) -> list[list[int]]:
    """For each target point, the weights that give its value from the values at the base points."""
    rows = []
    for t in targets:
        row = []
        for i, xi in enumerate(base):
            num, den = 1, 1
            for j, xj in enumerate(base):
                if j != i:
                    num, den = mul(num, t ^ xj), mul(den, xi ^ xj)
            row.append(mul(num, inv(den)))
        rows.append(row)
    return rows
