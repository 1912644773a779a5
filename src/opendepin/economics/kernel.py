"""The compiled daily step of the token-economics model (numba), one column (run × parameter set) at a time.

Every column is independent: its state is a column of the state arrays and its randomness comes from its own
xoroshiro128+ stream, seeded from the experiment seed and the column's *run* number (not its parameter set):
parameter sets share their random paths (common random numbers), and the order in which columns and days are
visited does not change a result. The fused path (:func:`run_block_full`, what `simulate` runs; its twin
:func:`run_block_plain` for the plain structure) walks each column through a block of days with its state in
local variables; the phased path (:func:`phase_a`, :func:`phase_b`, :func:`phase_c` over all columns for one
day) lets a custom policy, a plain Python function of the day's arrays, decide between the phases. Both do the
same operations in the same order (:func:`run_block`, the phases' per-column code fused, is the reference the
tests hold the fused kernels to, to the bit), so a custom policy equal to the built-in one gives the same
paths.

A day of one column, in order (float64: a forecast, not settlement):
  phase A  1. demand per sector = trend × e^walk (the walk then steps); served = min(demand, capacity per
              device × devices of the sector) where a sector has a capacity;
           2. market model with scarcity pricing: the price rises until demand buys at most a share of the
              circulating supply, P ≥ D / (share · circulating);
           3. oracle: the price is reported unless the update is missed (probability `miss`); the oracle
              price is the TWAP of the last reports; older than the staleness bound → no credit is minted
              and the day's demand is lost;
           4. users buy D / P_oracle tokens and burn them; only circulating tokens can be bought, so the
              burn is min(bought, circulating) and the rest of the demand is unmet (supply exhausted);
              revenue = burned × P_oracle (the USD users actually paid);
           5. mint = scheduled (a path, or Filecoin's simple part + baseline part from capped power, within
              max supply) + Helium-style re-mint (smoothed burn, capped); supply += mint − burn;
           6. reward policy: r = burned ÷ mint (USD paid ÷ USD value of the mint, both at P_oracle), w = w(r)
              (linear between the policy's points, flat outside);
  phase B  7. devices' pool = mint × device share; usage pool w × pool paid for the USD of service devices
              carried (each sector's among its devices), at most cap ÷ P_oracle tokens per USD; what usage
              leaves flows to coverage for `to_coverage`, the rest is not minted; coverage pays weight ×
              count, and cheaters take the sector's `leakage` of its devices' coverage pay;
           8. the default selling decision of contributors (the `[selling]` rule, see spec.SellingSpec);
  phase C  9. contributors, other recipients and cheaters sell; staking moves toward its target; devices
              join (Poisson, payback against the threshold) and leave (Poisson of count × leave
              probability, at most the count);
          10. the price moves: log walk (drift, volatility) plus, for the market model, impact × net buying
              ((revenue at spot − sold × spot) ÷ depth, clipped to ±0.5 a day); the expected return μ̂
              follows the day's log return; channels are added to the window accumulators.

Poisson draws are exact: inversion from one uniform below a mean of 10, Hörmann's transformed rejection
(PTRS) from 10 (tests/economics/test_poisson.py holds both to scipy's Poisson distribution).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The model's inputs and state travel as two tuples (positions below):
#   inp = (P, F, D, S, sector_of, set_of, base_price, trend, mint_path, vest, ratios, weights)
#   st  = (X, XS demand walks, TWAP window, rng, Z, ZS, ZD, acc (N, channels), records (N, points,
#          channels): a column's windows one after another, sources, ends, point_of)
from opendepin.economics.layout import (
    D_BASE_CHURN,
    D_HARDWARE,
    D_JOIN_FLOOR,
    D_JOIN_RATE,
    D_LEAK,
    D_LEAVE_RATE,
    D_OPEX,
    D_ORGANIC,
    D_RAW_POWER,
    D_THRESHOLD,
    D_WEIGHT,
    DAYS_PER_YEAR,
    F_AGENTS,
    F_CAPACITY,
    F_FILECOIN,
    F_MARKET,
    F_ORACLE,
    F_PRICE_RANDOM,
    F_REMINT,
    F_SCARCITY,
    F_STAKING,
    MAX_DAILY_PUSH,
    MIN_PRICE_USD,
    N_DAY,
    N_DEVICE_DAY,
    N_DEVICE_PARAMS,
    P_COMPOUND,
    P_COVER_COSTS,
    P_DEPTH,
    P_DEVICE_SHARE,
    P_EXPECT_ALPHA,
    P_FC_B0,
    P_FC_BASELINE,
    P_FC_GROWTH,
    P_FC_LAMBDA,
    P_HURDLE,
    P_IMPACT,
    P_LIQUIDATION,
    P_MAX_BURN_SHARE,
    P_MAX_HOLD,
    P_MAX_STAKED,
    P_MAX_STALE,
    P_MAX_SUPPLY,
    P_MIN_YIELD,
    P_MISS,
    P_PRICE_DRIFT,
    P_PRICE_SCALE,
    P_REMINT_CAP,
    P_SELL_FRACTION,
    P_SENSITIVITY,
    P_SMOOTHING,
    P_STAKE_ADJUST,
    P_STAKE_SHARE,
    P_START_DAY,
    P_TO_COVERAGE,
    P_UNBOND_RATE,
    P_USAGE_CAP,
    POISSON_INVERSION_MAX,
    S_CAPACITY,
    S_DRIFT,
    S_SCALE,
    X_AGE,
    X_BASELINE_MINTED,
    X_CAPPED_POWER,
    X_EMITTED,
    X_EXPECT,
    X_HAS_SPARE,
    X_HELD_CONTRIBUTORS,
    X_HELD_OTHERS,
    X_PRICE,
    X_REMINT_TARGET,
    X_REPORTED,
    X_SPARE_NORMAL,
    X_STAKED,
    X_SUPPLY,
    X_TWAP_TOTAL,
    X_UNBONDING,
    X_WALK,
    Z_BOUGHT,
    Z_BURNED,
    Z_CHEATERS,
    Z_CIRCULATING,
    Z_CONTRIBUTOR_REWARDS,
    Z_COVERAGE_PAID,
    Z_DAY,
    Z_DEMAND,
    Z_DEVICES,
    Z_EXPECT,
    Z_HALTED,
    Z_HOLD,
    Z_HOLDINGS,
    Z_INCENTIVES,
    Z_LOCKED,
    Z_MINTED,
    Z_OPEX_USD,
    Z_ORACLE,
    Z_OTHERS_INFLOW,
    Z_PAID_SHARE,
    Z_PRICE,
    Z_RATIO,
    Z_REMINT,
    Z_REVENUE,
    Z_SCHEDULED,
    Z_SERVED,
    Z_SOLD,
    Z_SOLD_CONTRIBUTORS,
    Z_STAKE_REWARD,
    Z_STAKED,
    Z_SUPPLY,
    Z_UNMET,
    Z_UNMINTED,
    Z_USAGE_PAID,
    Z_WEIGHT,
    ZD_COUNT,
    ZD_EARNINGS,
    ZD_JOINS,
    ZD_LEAVES,
    ZD_TOKENS,
    ZS_DEMAND,
    ZS_SERVED,
)

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_U11 = np.uint64(11)
_U16 = np.uint64(16)
_U24 = np.uint64(24)
_U37 = np.uint64(37)
_U40 = np.uint64(40)
_U27 = np.uint64(27)
_U64 = np.uint64(64)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: np.uint64) -> np.uint64:
    return (x << k) | (x >> (_U64 - k))


@njit(cache=True, inline="always")
def uniform(rng: np.ndarray, j: int) -> float:
    """Next uniform in [0, 1) of column j's xoroshiro128+ stream (53 bits)."""
    s0 = rng[0, j]
    s1 = rng[1, j]
    result = s0 + s1
    s1 ^= s0
    rng[0, j] = _rotl(s0, _U24) ^ s1 ^ (s1 << _U16)
    rng[1, j] = _rotl(s1, _U37)
    return float(result >> _U11) * _TWO_M53


@njit(cache=True, inline="always")
def normal(rng: np.ndarray, x: np.ndarray, j: int) -> float:
    """A standard normal for column j (Marsaglia's polar method; the second of each pair is kept in the
    state)."""
    if x[X_HAS_SPARE, j] > 0.0:
        x[X_HAS_SPARE, j] = 0.0
        return x[X_SPARE_NORMAL, j]
    while True:
        u = 2.0 * uniform(rng, j) - 1.0
        v = 2.0 * uniform(rng, j) - 1.0
        q = u * u + v * v
        if 0.0 < q < 1.0:
            break
    scale = math.sqrt(-2.0 * math.log(q) / q)
    x[X_SPARE_NORMAL, j] = v * scale
    x[X_HAS_SPARE, j] = 1.0
    return u * scale


@njit(cache=True, inline="always")
def poisson(rng: np.ndarray, x: np.ndarray, j: int, mean: float) -> float:
    """A Poisson count of `mean` for column j (`_next_poisson` on the column's stream: the same draw)."""
    count, s0, s1 = _next_poisson(rng[0, j], rng[1, j], mean)
    rng[0, j] = s0
    rng[1, j] = s1
    return count


@njit(cache=True)
def seed_streams(seeds: np.ndarray) -> np.ndarray:
    """Two-word xoroshiro states from one 64-bit seed per column (splitmix64, never all zero)."""
    n = seeds.shape[0]
    rng = np.empty((2, n), dtype=np.uint64)
    for j in range(n):
        z = seeds[j]
        for w in range(2):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            y = z
            y = (y ^ (y >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            y = (y ^ (y >> _U27)) * np.uint64(0x94D049BB133111EB)
            y = y ^ (y >> np.uint64(31))
            rng[w, j] = y
        if rng[0, j] == 0 and rng[1, j] == 0:
            rng[0, j] = np.uint64(1)
    return rng


@njit(cache=True, inline="always")
def interp_weight(ratio: float, ratios: np.ndarray, weights: np.ndarray, j: int) -> float:
    """w(r) of column j: linear between the points (ratios[:, j], weights[:, j]), flat outside (the slope
    through 1 ÷ (r1 − r0), as `interp_weight_spans` takes it precomputed)."""
    m = ratios.shape[0]
    if ratio <= ratios[0, j]:
        return weights[0, j]
    for i in range(m - 1):
        r0 = ratios[i, j]
        r1 = ratios[i + 1, j]
        if ratio <= r1:
            if r1 > r0:
                return weights[i, j] + (weights[i + 1, j] - weights[i, j]) * (ratio - r0) * (1.0 / (r1 - r0))
            return weights[i + 1, j]
    return weights[m - 1, j]


@njit(cache=True, inline="always")
def interp_weight_spans(
    ratio: float, ratios: np.ndarray, weights: np.ndarray, inv_spans: np.ndarray, j: int
) -> float:
    """`interp_weight` with 1 ÷ (r1 − r0) of each segment of column j precomputed in `inv_spans` (the same
    value to the bit, without a division on the day's chain)."""
    m = ratios.shape[0]
    if ratio <= ratios[0, j]:
        return weights[0, j]
    for i in range(m - 1):
        r0 = ratios[i, j]
        r1 = ratios[i + 1, j]
        if ratio <= r1:
            if r1 > r0:
                return weights[i, j] + (weights[i + 1, j] - weights[i, j]) * (ratio - r0) * inv_spans[i]
            return weights[i + 1, j]
    return weights[m - 1, j]


@njit(cache=True, inline="always")
def capped_power_increment(raw: float, b0: float, g: float, t0: float, t1: float) -> float:
    """∫_{t0}^{t1} min(b0·e^{gt}, raw) dt, exact (see schedules.compute_capped_power_increment)."""
    crossing = math.log(max(raw, 1e-300) / b0) / g
    tc = min(max(crossing, t0), t1)
    return b0 * (math.exp(g * tc) - math.exp(g * t0)) / g + raw * (t1 - tc)


@njit(cache=True, inline="always")
def phase_a_column(t, j, inp, st):  # type: ignore[no-untyped-def]
    """Steps 1–6 for column j on day t (see the module docstring)."""
    p = inp[0]
    f = inp[1]
    dp = inp[2]
    sp = inp[3]
    sector_of = inp[4]
    set_of = inp[5]
    trend = inp[7]
    mint_path = inp[8]
    vest = inp[9]
    ratios = inp[10]
    weights = inp[11]
    x = st[0]
    xs = st[1]
    window = st[2]
    rng = st[3]
    z = st[4]
    zs = st[5]
    zd = st[6]
    k = set_of[j]
    sectors = xs.shape[0]
    types = zd.shape[1]
    z[Z_DAY, j] = t
    # 1. demand and what the sectors' devices can serve
    demand = 0.0
    served = 0.0
    for s in range(sectors):
        d = trend[t, s, k]
        scale = sp[S_SCALE, s, j]
        if scale > 0.0:
            d *= math.exp(xs[s, j])
            xs[s, j] += sp[S_DRIFT, s, j] + scale * normal(rng, x, j)
        served_s = d
        if f[F_CAPACITY] == 1:
            capacity = sp[S_CAPACITY, s, j]
            if math.isfinite(capacity):
                count = 0.0
                for i in range(types):
                    if sector_of[i] == s:
                        count += zd[ZD_COUNT, i, j]
                served_s = min(d, capacity * count)
        zs[ZS_DEMAND, s, j] = d
        zs[ZS_SERVED, s, j] = served_s
        demand += d
        served += served_s
    locked = x[X_STAKED, j] + x[X_UNBONDING, j] + vest[t, k]
    circulating = x[X_SUPPLY, j] - locked
    # 2. scarcity: the price rises until demand buys at most a share of what circulates
    if f[F_SCARCITY] == 1:
        share = p[P_MAX_BURN_SHARE, j]
        if share > 0.0:
            floor = served / (share * max(circulating, 1.0))
            if floor > x[X_PRICE, j]:
                x[X_WALK, j] += math.log(floor / x[X_PRICE, j])
                x[X_PRICE, j] = floor
    spot = x[X_PRICE, j]
    # 3. oracle
    oracle = spot
    halted = 0.0
    if f[F_ORACLE] == 1:
        if uniform(rng, j) >= p[P_MISS, j]:
            x[X_AGE, j] = 0.0
            x[X_REPORTED, j] = spot
        else:
            x[X_AGE, j] += 1.0
        # the window's sum: in slot order from 0.0 when the window starts over (slot 0), else yesterday's sum
        # plus the report that replaces the oldest (kept in the state: no loop on the other days)
        twap = window.shape[0]
        slot = t % twap
        if slot == 0:
            window[0, j] = x[X_REPORTED, j]
            total = 0.0
            for w in range(twap):
                total += window[w, j]
        else:
            total = x[X_TWAP_TOTAL, j] + (x[X_REPORTED, j] - window[slot, j])
            window[slot, j] = x[X_REPORTED, j]
        x[X_TWAP_TOTAL, j] = total
        oracle = total * (1.0 / twap)  # one multiplication: the reciprocal is the same every day
        if x[X_AGE, j] > p[P_MAX_STALE, j]:
            halted = 1.0
            served = 0.0
            for s in range(sectors):
                zs[ZS_SERVED, s, j] = 0.0
    # 4. burn what circulates
    bought = served / max(oracle, MIN_PRICE_USD)
    burned = min(bought, max(circulating, 0.0))
    # bought ÷ bought is 1.0 to the bit: no division when every token bought is burned (the usual day)
    paid_share = burned / bought if bought > 0.0 and burned != bought else 1.0
    # 5. mint
    scheduled = mint_path[t, k]
    if f[F_FILECOIN] == 1:
        power = 0.0
        for i in range(types):
            power += dp[D_RAW_POWER, i, j] * zd[ZD_COUNT, i, j]
        t0 = (p[P_START_DAY, j] + t) / DAYS_PER_YEAR
        g = p[P_FC_GROWTH, j]
        b0 = p[P_FC_B0, j]
        x[X_CAPPED_POWER, j] += capped_power_increment(power, b0, g, t0, t0 + 1.0 / DAYS_PER_YEAR)
        theta = math.log1p(g * x[X_CAPPED_POWER, j] / b0) / g
        baseline = p[P_FC_BASELINE, j] * (1.0 - math.exp(-p[P_FC_LAMBDA, j] * theta))
        scheduled = min(scheduled + baseline - x[X_BASELINE_MINTED, j], p[P_MAX_SUPPLY, j] - x[X_EMITTED, j])
        x[X_BASELINE_MINTED, j] = baseline
        x[X_EMITTED, j] += scheduled
    remint = 0.0
    if f[F_REMINT] == 1:
        alpha = p[P_SMOOTHING, j]
        x[X_REMINT_TARGET, j] = (1.0 - alpha) * x[X_REMINT_TARGET, j] + alpha * burned
        remint = min(x[X_REMINT_TARGET, j], p[P_REMINT_CAP, j])
    minted = scheduled + remint
    x[X_SUPPLY, j] += minted - burned
    # 6. reward policy
    ratio = burned / minted if minted > 0.0 else 0.0
    z[Z_PRICE, j] = spot
    z[Z_ORACLE, j] = oracle
    z[Z_HALTED, j] = halted
    z[Z_DEMAND, j] = demand
    z[Z_SERVED, j] = served
    z[Z_BOUGHT, j] = bought
    z[Z_BURNED, j] = burned
    z[Z_PAID_SHARE, j] = paid_share
    z[Z_REVENUE, j] = burned * oracle
    z[Z_UNMET, j] = (bought - burned) * oracle
    z[Z_SCHEDULED, j] = scheduled
    z[Z_REMINT, j] = remint
    z[Z_MINTED, j] = minted
    z[Z_RATIO, j] = ratio
    z[Z_WEIGHT, j] = interp_weight(ratio, ratios, weights, j)


@njit(cache=True, inline="always")
def _hold_share(p: np.ndarray, expect: float, j: int) -> float:
    """h = max_hold / (1 + e^{−sensitivity·(μ̂ − hurdle)})."""
    return p[P_MAX_HOLD, j] / (1.0 + math.exp(-p[P_SENSITIVITY, j] * (expect - p[P_HURDLE, j])))


@njit(cache=True, inline="always")
def phase_b_column(t, j, inp, st):  # type: ignore[no-untyped-def]
    """Steps 7–8 for column j on day t: pay devices, cheaters and other recipients; contributors' default
    selling decision."""
    p = inp[0]
    f = inp[1]
    dp = inp[2]
    sector_of = inp[4]
    x = st[0]
    xs = st[1]
    z = st[4]
    zs = st[5]
    zd = st[6]
    sectors = xs.shape[0]
    types = zd.shape[1]
    weight = z[Z_WEIGHT, j]
    minted = z[Z_MINTED, j]
    oracle = z[Z_ORACLE, j]
    spot = z[Z_PRICE, j]
    paid_share = z[Z_PAID_SHARE, j]
    pool = minted * p[P_DEVICE_SHARE, j]
    stake_reward = minted * p[P_STAKE_SHARE, j] if f[F_STAKING] == 1 else 0.0
    others = minted - pool - stake_reward
    usage_paid = 0.0
    coverage_paid = 0.0
    unminted = 0.0
    cheaters = 0.0
    rewards = 0.0
    opex = 0.0
    if types > 0:
        usage_pool = weight * pool
        carried = 0.0
        for s in range(sectors):
            count = 0.0
            for i in range(types):
                if sector_of[i] == s:
                    count += zd[ZD_COUNT, i, j]
            if count > 0.0:
                carried += zs[ZS_SERVED, s, j] * paid_share
        per_usd = min(usage_pool / max(carried, 1e-12), p[P_USAGE_CAP, j] / max(oracle, MIN_PRICE_USD))
        usage_paid = per_usd * carried
        left = usage_pool - usage_paid
        coverage_pool = pool - usage_pool + p[P_TO_COVERAGE, j] * left
        unminted = (1.0 - p[P_TO_COVERAGE, j]) * left
        total_weight = 0.0
        for i in range(types):
            total_weight += dp[D_WEIGHT, i, j] * zd[ZD_COUNT, i, j]
        # × 1 ÷ total weight and × 1 ÷ a sector's devices: reciprocals of the day's counts, known at its start
        per_weight = coverage_pool * (1.0 / total_weight) if total_weight > 0.0 else 0.0
        coverage_paid = per_weight * total_weight
        for i in range(types):
            count = zd[ZD_COUNT, i, j]
            coverage = per_weight * dp[D_WEIGHT, i, j]
            leak = dp[D_LEAK, i, j]
            cheaters += coverage * count * leak
            s = sector_of[i]
            sector_count = 0.0
            for i2 in range(types):
                if sector_of[i2] == s:
                    sector_count += zd[ZD_COUNT, i2, j]
            usage = (
                zs[ZS_SERVED, s, j] * paid_share * (1.0 / sector_count) * per_usd
                if sector_count > 0.0
                else 0.0
            )
            tokens = coverage * (1.0 - leak) + usage
            zd[ZD_TOKENS, i, j] = tokens
            zd[ZD_EARNINGS, i, j] = tokens * spot
            rewards += tokens * count
            opex += dp[D_OPEX, i, j] * count
        x[X_SUPPLY, j] -= unminted
        minted -= unminted
    else:
        others += pool  # no device modelled: the devices' part goes to holders
    z[Z_MINTED, j] = minted
    z[Z_USAGE_PAID, j] = usage_paid
    z[Z_COVERAGE_PAID, j] = coverage_paid
    z[Z_UNMINTED, j] = unminted
    z[Z_CHEATERS, j] = cheaters
    z[Z_CONTRIBUTOR_REWARDS, j] = rewards
    z[Z_OPEX_USD, j] = opex
    z[Z_OTHERS_INFLOW, j] = others
    z[Z_STAKE_REWARD, j] = stake_reward
    z[Z_INCENTIVES, j] = minted * spot
    # 8. contributors' default decision: sell for costs, then (1 − h) of the rest, and some holdings
    held = x[X_HELD_CONTRIBUTORS, j]
    if f[F_AGENTS] == 1:
        h = _hold_share(p, x[X_EXPECT, j], j)
        cost_tokens = min(p[P_COVER_COSTS, j] * opex / max(spot, MIN_PRICE_USD), rewards + held)
        surplus = max(rewards - cost_tokens, 0.0)
        from_holdings = max(cost_tokens - rewards, 0.0)
        sold = cost_tokens + (1.0 - h) * surplus + p[P_LIQUIDATION, j] * (1.0 - h) * (held - from_holdings)
        z[Z_HOLD, j] = h
        z[Z_SOLD_CONTRIBUTORS, j] = sold
    else:
        z[Z_HOLD, j] = 1.0 - p[P_SELL_FRACTION, j]
        z[Z_SOLD_CONTRIBUTORS, j] = p[P_SELL_FRACTION, j] * rewards


@njit(cache=True, inline="always")
def phase_c_column(t, j, inp, st):  # type: ignore[no-untyped-def]
    """Steps 9–10 for column j on day t: sell, stake, devices join and leave, the price moves, record."""
    p = inp[0]
    f = inp[1]
    dp = inp[2]
    set_of = inp[5]
    base_price = inp[6]
    vest = inp[9]
    x = st[0]
    xs = st[1]
    rng = st[3]
    z = st[4]
    zs = st[5]
    zd = st[6]
    acc = st[7]
    records = st[8]
    sources = st[9]
    ends = st[10]
    point_of = st[11]
    k = set_of[j]
    sectors = xs.shape[0]
    types = zd.shape[1]
    spot = z[Z_PRICE, j]
    h = z[Z_HOLD, j]
    rewards = z[Z_CONTRIBUTOR_REWARDS, j]
    # 9. selling
    held = x[X_HELD_CONTRIBUTORS, j]
    sold_contributors = min(max(z[Z_SOLD_CONTRIBUTORS, j], 0.0), rewards + held)
    x[X_HELD_CONTRIBUTORS, j] = held + rewards - sold_contributors
    stake_reward = z[Z_STAKE_REWARD, j]
    inflow = z[Z_OTHERS_INFLOW, j] + (vest[t, k] - vest[t + 1, k])
    if f[F_STAKING] == 1:
        released = x[X_UNBONDING, j] * p[P_UNBOND_RATE, j]
        x[X_UNBONDING, j] -= released
        inflow += released + (1.0 - p[P_COMPOUND, j]) * stake_reward
        x[X_STAKED, j] += p[P_COMPOUND, j] * stake_reward
    held_others = x[X_HELD_OTHERS, j]
    if f[F_AGENTS] == 1:
        sold_others = (1.0 - h) * inflow + p[P_LIQUIDATION, j] * (1.0 - h) * held_others
        sold = sold_contributors + sold_others + z[Z_CHEATERS, j]
    else:
        sold_others = p[P_SELL_FRACTION, j] * inflow
        sold = p[P_SELL_FRACTION, j] * z[Z_MINTED, j]  # the old rule: s × every mint
    x[X_HELD_OTHERS, j] = held_others + inflow - sold_others
    # staking toward the yield stakers want
    if f[F_STAKING] == 1:
        wanted = max(p[P_HURDLE, j] - x[X_EXPECT, j], p[P_MIN_YIELD, j])
        target = stake_reward * DAYS_PER_YEAR / wanted
        target = min(target, p[P_MAX_STAKED, j] * x[X_SUPPLY, j])
        change = (target - x[X_STAKED, j]) * p[P_STAKE_ADJUST, j]
        if change > 0.0:
            free = x[X_SUPPLY, j] - x[X_STAKED, j] - x[X_UNBONDING, j] - vest[t + 1, k]
            change = min(change, max(free, 0.0))
            x[X_STAKED, j] += change
        else:
            x[X_STAKED, j] += change
            x[X_UNBONDING, j] -= change
    # devices join and leave
    devices = 0.0
    for i in range(types):
        count = zd[ZD_COUNT, i, j]
        earnings = zd[ZD_EARNINGS, i, j]
        opex = dp[D_OPEX, i, j]
        margin = earnings - opex
        # attractiveness 1 − payback ÷ threshold = 1 − (hardware ÷ threshold) ÷ margin; distress (opex −
        # earnings) ÷ opex, 0 when the margin is positive (the reciprocals are the same every day)
        attract = 0.0
        distress = 0.0
        if margin > 0.0:
            attract = min(max(1.0 - dp[D_HARDWARE, i, j] / dp[D_THRESHOLD, i, j] / margin, 0.0), 1.0)
        elif opex > 0.0:
            distress = min(max((opex - earnings) * (1.0 / opex), 0.0), 1.0)
        expected = dp[D_JOIN_RATE, i, j] * (count + dp[D_JOIN_FLOOR, i, j]) * attract
        expected += dp[D_ORGANIC, i, j] * count
        joins = poisson(rng, x, j, min(expected, 1e12))
        leave_p = min(dp[D_BASE_CHURN, i, j] + dp[D_LEAVE_RATE, i, j] * distress, 1.0)
        leaves = min(poisson(rng, x, j, min(count * leave_p, 1e12)), count)
        count = count + joins - leaves
        zd[ZD_COUNT, i, j] = count
        zd[ZD_JOINS, i, j] = joins
        zd[ZD_LEAVES, i, j] = leaves
        devices += count
    # 10. the price moves; expectations follow
    walk = x[X_WALK, j]
    walk_spot = walk  # spot = base_t · e^walk_spot
    if f[F_MARKET] == 1:
        flow = (z[Z_BURNED, j] - sold) * spot / p[P_DEPTH, j]
        push = min(max(p[P_IMPACT, j] * flow, -MAX_DAILY_PUSH), MAX_DAILY_PUSH)
        walk += p[P_PRICE_DRIFT, j] + push
        if f[F_PRICE_RANDOM] == 1:
            walk += p[P_PRICE_SCALE, j] * normal(rng, x, j)
    else:
        walk += p[P_PRICE_DRIFT, j]
        if f[F_PRICE_RANDOM] == 1:
            walk += p[P_PRICE_SCALE, j] * normal(rng, x, j)
    x[X_WALK, j] = walk
    price = base_price[t + 1, k] * math.exp(walk)
    x[X_PRICE, j] = price
    if (f[F_AGENTS] == 1 or f[F_STAKING] == 1) and spot > 0.0 and price > 0.0:  # only they read μ̂
        # log(price ÷ spot) = (walk − walk_spot) + log(base_{t+1} ÷ base_t): no logarithm of the day's prices
        daily = ((walk - walk_spot) + math.log(base_price[t + 1, k] / base_price[t, k])) * DAYS_PER_YEAR
        x[X_EXPECT, j] += p[P_EXPECT_ALPHA, j] * (daily - x[X_EXPECT, j])
    locked = x[X_STAKED, j] + x[X_UNBONDING, j] + vest[t + 1, k]
    z[Z_SOLD, j] = sold
    z[Z_SUPPLY, j] = x[X_SUPPLY, j]
    z[Z_LOCKED, j] = locked
    z[Z_CIRCULATING, j] = x[X_SUPPLY, j] - locked
    z[Z_STAKED, j] = x[X_STAKED, j]
    z[Z_HOLDINGS, j] = x[X_HELD_CONTRIBUTORS, j] + x[X_HELD_OTHERS, j]
    z[Z_EXPECT, j] = x[X_EXPECT, j]
    z[Z_DEVICES, j] = devices
    _record(t, j, z, zs, zd, acc, records, sources, ends, point_of, sectors, types)


@njit(cache=True, inline="always")
def _record(t, j, z, zs, zd, acc, records, sources, ends, point_of, sectors, types):  # type: ignore[no-untyped-def]
    """Add the day's recorded values to column j's accumulators; at a window's end, write their means.

    `sources[r]` says where recorded channel r reads: a Z row (< N_DAY), a sector's demand (N_DAY + s) or a
    device row (N_DAY + sectors + kind · types + i: counts after the day, tokens and earnings per device,
    joins, leaves)."""
    for r in range(sources.shape[0]):
        code = sources[r]
        if code < N_DAY:
            value = z[code, j]
        elif code < N_DAY + sectors:
            value = zs[ZS_DEMAND, code - N_DAY, j]
        else:
            rest = code - N_DAY - sectors
            value = zd[rest // types, rest % types, j]
        acc[j, r] += value
    point = point_of[t]
    if t + 1 == ends[point]:
        start = ends[point - 1] if point > 0 else 0
        length = float(t + 1 - start)
        for r in range(sources.shape[0]):
            records[j, point, r] = acc[j, r] / length
            acc[j, r] = 0.0


@njit(cache=True)
def run_block(t0, t1, inp, st):  # type: ignore[no-untyped-def]
    """Days [t0, t1) of every column, one column at a time, through `phase_a_column`, `phase_b_column` and
    `phase_c_column` (the code the custom-policy path runs phase by phase).

    Not run by `simulate`: it is the reference the tests hold `run_block_full` (what `simulate` runs) to,
    to the bit (tests/economics/test_kernel.py); kept because it is the phases' own day, written once."""
    n = st[0].shape[1]
    for j in range(n):  # a column's whole block, its state in cache
        for t in range(t0, t1):
            phase_a_column(t, j, inp, st)
            phase_b_column(t, j, inp, st)
            phase_c_column(t, j, inp, st)


@njit(cache=True)
def phase_a(t, inp, st):  # type: ignore[no-untyped-def]
    """Phase A of day t for every column (the phased path)."""
    for j in range(st[0].shape[1]):
        phase_a_column(t, j, inp, st)


@njit(cache=True)
def phase_b(t, inp, st):  # type: ignore[no-untyped-def]
    """Phase B of day t for every column."""
    for j in range(st[0].shape[1]):
        phase_b_column(t, j, inp, st)


@njit(cache=True)
def phase_c(t, inp, st):  # type: ignore[no-untyped-def]
    """Phase C of day t for every column."""
    for j in range(st[0].shape[1]):
        phase_c_column(t, j, inp, st)


@njit(cache=True)
def run_block_plain(t0, t1, inp, st):  # type: ignore[no-untyped-def]
    """Days [t0, t1) of every column for a plain structure (see `is_plain`): the same rules, operations
    and random draws as `run_block` in the same order (so the same paths, to the bit), with a column's
    state in local variables and its day's values in a small local vector instead of the N-wide arrays.

    Plain: no device type, no oracle (TWAP, misses), no re-mint, no Filecoin schedule, no scarcity
    pricing or capacity limit, the fixed selling rule and no staking (vesting locks are allowed)."""
    p = inp[0]
    f = inp[1]
    sp = inp[3]
    set_of = inp[5]
    base_price = inp[6]
    trend = inp[7]
    mint_path = inp[8]
    vest = inp[9]
    ratios = inp[10]
    weights = inp[11]
    x = st[0]
    xs = st[1]
    rng = st[3]
    z = st[4]
    zs = st[5]
    acc = st[7]
    records = st[8]
    sources = st[9]
    ends = st[10]
    point_of = st[11]
    n = x.shape[1]
    sectors = xs.shape[0]
    market = f[F_MARKET] == 1
    random_price = f[F_PRICE_RANDOM] == 1
    zl = np.zeros(N_DAY)
    dl = np.zeros(sectors)
    walks = np.zeros(sectors)
    for j in range(n):
        k = set_of[j]
        supply = x[X_SUPPLY, j]
        walk = x[X_WALK, j]
        price = x[X_PRICE, j]
        held_c = x[X_HELD_CONTRIBUTORS, j]
        held_o = x[X_HELD_OTHERS, j]
        staked = x[X_STAKED, j]
        unbonding = x[X_UNBONDING, j]
        expect = x[X_EXPECT, j]
        for s in range(sectors):
            walks[s] = xs[s, j]
        sell = p[P_SELL_FRACTION, j]
        device_share = p[P_DEVICE_SHARE, j]
        depth = p[P_DEPTH, j]
        impact = p[P_IMPACT, j]
        drift = p[P_PRICE_DRIFT, j]
        scale_p = p[P_PRICE_SCALE, j]
        for t in range(t0, t1):
            # phase A (steps 1, 4, 5, 6)
            demand = 0.0
            served = 0.0
            for s in range(sectors):
                d = trend[t, s, k]
                scale = sp[S_SCALE, s, j]
                if scale > 0.0:
                    d *= math.exp(walks[s])
                    walks[s] += sp[S_DRIFT, s, j] + scale * normal(rng, x, j)
                dl[s] = d
                demand += d
                served += d
            locked = staked + unbonding + vest[t, k]
            circulating = supply - locked
            spot = price
            bought = served / max(spot, MIN_PRICE_USD)
            burned = min(bought, max(circulating, 0.0))
            paid_share = burned / bought if bought > 0.0 else 1.0
            scheduled = mint_path[t, k]
            minted = scheduled + 0.0
            supply += minted - burned
            ratio = burned / minted if minted > 0.0 else 0.0
            # phase B (no device type: the devices' part goes to holders)
            pool = minted * device_share
            others = minted - pool - 0.0
            others += pool
            # phase C: the fixed rule sells `sell` of every mint
            sold_c = min(max(sell * 0.0, 0.0), 0.0 + held_c)
            held_c = held_c + 0.0 - sold_c
            inflow = others + (vest[t, k] - vest[t + 1, k])
            sold_o = sell * inflow
            sold = sell * minted
            held_o = held_o + inflow - sold_o
            if market:
                flow = (burned - sold) * spot / depth
                push = min(max(impact * flow, -MAX_DAILY_PUSH), MAX_DAILY_PUSH)
                walk += drift + push
            else:
                walk += drift
            if random_price:
                walk += scale_p * normal(rng, x, j)
            price = base_price[t + 1, k] * math.exp(walk)
            locked_next = staked + unbonding + vest[t + 1, k]
            zl[Z_DAY] = t
            zl[Z_PRICE] = spot
            zl[Z_ORACLE] = spot
            zl[Z_DEMAND] = demand
            zl[Z_SERVED] = served
            zl[Z_BOUGHT] = bought
            zl[Z_BURNED] = burned
            zl[Z_PAID_SHARE] = paid_share
            zl[Z_REVENUE] = burned * spot
            zl[Z_UNMET] = (bought - burned) * spot
            zl[Z_SCHEDULED] = scheduled
            zl[Z_MINTED] = minted
            zl[Z_RATIO] = ratio
            zl[Z_WEIGHT] = interp_weight(ratio, ratios, weights, j)
            zl[Z_OTHERS_INFLOW] = others
            zl[Z_INCENTIVES] = minted * spot
            zl[Z_HOLD] = 1.0 - sell
            zl[Z_SOLD] = sold
            zl[Z_SUPPLY] = supply
            zl[Z_LOCKED] = locked_next
            zl[Z_CIRCULATING] = supply - locked_next
            zl[Z_STAKED] = staked
            zl[Z_HOLDINGS] = held_c + held_o
            zl[Z_EXPECT] = expect
            # record: the day's values (codes < N_DAY) and each sector's demand
            for r in range(sources.shape[0]):
                code = sources[r]
                acc[j, r] += zl[code] if code < N_DAY else dl[code - N_DAY]
            point = point_of[t]
            if t + 1 == ends[point]:
                start = ends[point - 1] if point > 0 else 0
                length = float(t + 1 - start)
                if length == 1.0:  # x / 1.0 is x to the bit: a daily record needs no division
                    for r in range(sources.shape[0]):
                        records[j, point, r] = acc[j, r]
                        acc[j, r] = 0.0
                else:
                    for r in range(sources.shape[0]):
                        records[j, point, r] = acc[j, r] / length
                        acc[j, r] = 0.0
        x[X_SUPPLY, j] = supply
        x[X_WALK, j] = walk
        x[X_PRICE, j] = price
        x[X_HELD_CONTRIBUTORS, j] = held_c
        x[X_HELD_OTHERS, j] = held_o
        for s in range(sectors):
            xs[s, j] = walks[s]
            zs[ZS_DEMAND, s, j] = dl[s]
            zs[ZS_SERVED, s, j] = dl[s]
        for c in range(N_DAY):
            z[c, j] = zl[c]


PLAIN_OFF = (F_ORACLE, F_REMINT, F_FILECOIN, F_CAPACITY, F_SCARCITY, F_AGENTS, F_STAKING)
"""Flags that must be off for `run_block_plain`."""


def is_plain(flags: np.ndarray, types: int) -> bool:
    """Whether `run_block_plain` applies: no device type and none of `PLAIN_OFF`."""
    return types == 0 and all(int(flags[i]) == 0 for i in PLAIN_OFF)


@njit(cache=True)
def decode_sources(sources, sectors, types):  # type: ignore[no-untyped-def]
    """`sources` (see `_record`) as (kind, row, index) per recorded channel: kind 0 a Z row, 1 a sector's
    demand (index: the sector), 2 a device row (row: the kind of value, index: the device type)."""
    m = sources.shape[0]
    out = np.zeros((3, m), dtype=np.int64)
    for r in range(m):
        code = sources[r]
        if code < N_DAY:
            out[1, r] = code
        elif code < N_DAY + sectors:
            out[0, r] = 1
            out[2, r] = code - N_DAY
        else:
            rest = code - N_DAY - sectors
            out[0, r] = 2
            out[1, r] = rest // types
            out[2, r] = rest % types
    return out


@njit(cache=True, inline="always")
def _next_uniform(s0, s1):  # type: ignore[no-untyped-def]
    """`uniform` on a stream held in two local words: (u, s0', s1'), the same draw to the bit."""
    result = s0 + s1
    s1 ^= s0
    return float(result >> _U11) * _TWO_M53, _rotl(s0, _U24) ^ s1 ^ (s1 << _U16), _rotl(s1, _U37)


@njit(cache=True, inline="always")
def _next_normal(s0, s1, spare, has_spare):  # type: ignore[no-untyped-def]
    """`normal` on local state: (z, s0', s1', spare', has_spare'), the same draw to the bit."""
    if has_spare:
        return spare, s0, s1, spare, False
    while True:
        a, s0, s1 = _next_uniform(s0, s1)
        b, s0, s1 = _next_uniform(s0, s1)
        u = 2.0 * a - 1.0
        v = 2.0 * b - 1.0
        q = u * u + v * v
        if 0.0 < q < 1.0:
            break
    scale = math.sqrt(-2.0 * math.log(q) / q)
    return u * scale, s0, s1, v * scale, True


POISSON_UNROLLED = 9
"""`_next_poisson` computes the inversion's first cumulative sums (up to this count) without a branch."""

LOG_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(256)])
"""log k! for k < 256 (PTRS's acceptance test); above, `_log_factorial`'s Stirling series."""
_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@njit(cache=True, inline="always")
def _log_factorial(k: float) -> float:
    """log k! of a whole k ≥ 0: the table below 256, else Stirling's series for log Γ(k + 1) to the x⁻⁵ term
    (its remainder is below 1/(1680·257⁷) ≈ 1e-20, far under a double's rounding of the result)."""
    if k < 256.0:
        return LOG_FACTORIALS[int(k)]
    x = k + 1.0
    r = 1.0 / x
    r2 = r * r
    series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0)))
    return (x - 0.5) * math.log(x) - x + _HALF_LOG_TWO_PI + series


@njit(cache=True, inline="always")
def _poisson_ptrs(s0, s1, mean):  # type: ignore[no-untyped-def]
    """An exact Poisson count of `mean` ≥ 10 by Hörmann's transformed rejection with squeeze (PTRS: W.
    Hörmann, "The transformed rejection method for generating Poisson random variables", Insurance:
    Mathematics and Economics 12, 1993; the constants are the paper's, as in numpy's legacy generator):
    (count, s0', s1'). Two uniforms a try (U then V); ~1.1–1.4 tries a draw (fewer as the mean grows).
    The squeeze accepts most tries with one square root and two divisions; the rest compare logarithms
    (log k! from `_log_factorial`), with log(mean) and 1/α computed only then."""
    slam = math.sqrt(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    log_mean = 0.0
    inv_alpha = 0.0
    while True:
        u, s0, s1 = _next_uniform(s0, s1)
        v, s0, s1 = _next_uniform(s0, s1)
        u -= 0.5
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= v_r:
            return k, s0, s1
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if inv_alpha == 0.0:
            log_mean = math.log(mean)
            inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
        if math.log(v * inv_alpha / (a / (us * us) + b)) <= -mean + k * log_mean - _log_factorial(k):
            return k, s0, s1


@njit(cache=True, inline="always")
def _next_poisson(s0, s1, mean):  # type: ignore[no-untyped-def]
    """A Poisson count of `mean` on a stream held in two local words: (count, s0', s1'). Exact (to the
    doubles' rounding): inversion from one uniform below `POISSON_INVERSION_MAX` (10), Hörmann's PTRS from
    it (`_poisson_ptrs`). A mean of 0 (or NaN) draws nothing and counts 0.

    The inversion's cumulative sums up to `POISSON_UNROLLED` are computed in the same order as the loop and
    counted without branches (they never decrease, so the count of those below u is where the loop stops);
    only a count above that takes the loop. With the growth scenario's means (median ~4) this saves the
    mispredicted exit of the loop on most draws."""
    if not mean > 0.0:
        return 0.0, s0, s1
    if mean < POISSON_INVERSION_MAX:
        u, s0, s1 = _next_uniform(s0, s1)
        p = math.exp(-mean)
        cdf = p
        count = int(u > cdf)
        for k in range(1, POISSON_UNROLLED):  # a fixed count: unrolled by the compiler
            p *= mean / k
            cdf += p
            count += int(u > cdf)
        p *= mean / POISSON_UNROLLED
        cdf += p
        if u <= cdf:
            return float(count), s0, s1
        k = POISSON_UNROLLED
        while u > cdf and k < 200:
            k += 1
            p *= mean / k
            cdf += p
        return float(k), s0, s1
    return _poisson_ptrs(s0, s1, mean)


@njit(cache=True, error_model="numpy")
def run_block_full(t0, t1, inp, st):  # type: ignore[no-untyped-def]
    """Days [t0, t1) of every column for any structure: the same rules, operations and random draws as
    `run_block` (phases A, B, C of the module docstring) in the same order, so the same paths to the bit.

    A column's whole state lives in local variables and small scratch vectors while it walks its block of
    days, and goes back to the N-wide arrays once at the end: its scalar state and day's values, its random
    stream (the two xoroshiro words and the spare normal), its sectors' walks, demand and served USD, its
    device types' counts and pay, its TWAP window, and its parameters (read once per column, not per day).
    Devices per sector are summed once a day (in type order, as each phase summed them). The feature flags
    are read once; the recorded channels' sources are decoded once; a daily window is written directly
    (0.0 + value: the accumulator's sum, to the bit). `error_model="numpy"`: no zero-divisor check before
    each division (no division here raises: the model guards every divisor that can be zero)."""
    p = inp[0]
    f = inp[1]
    dp = inp[2]
    sp = inp[3]
    sector_of = inp[4]
    set_of = inp[5]
    base_price = inp[6]
    trend = inp[7]
    mint_path = inp[8]
    vest = inp[9]
    ratios = inp[10]
    weights = inp[11]
    x = st[0]
    xs = st[1]
    window = st[2]
    rng = st[3]
    z = st[4]
    zs = st[5]
    zd = st[6]
    acc = st[7]
    records = st[8]
    ends = st[10]
    point_of = st[11]
    n = x.shape[1]
    sectors = xs.shape[0]
    types = zd.shape[1]
    twap = window.shape[0]
    capacity_on = f[F_CAPACITY] == 1
    scarcity_on = f[F_SCARCITY] == 1
    oracle_on = f[F_ORACLE] == 1
    filecoin_on = f[F_FILECOIN] == 1
    remint_on = f[F_REMINT] == 1
    staking_on = f[F_STAKING] == 1
    agents_on = f[F_AGENTS] == 1
    market_on = f[F_MARKET] == 1
    random_price = f[F_PRICE_RANDOM] == 1
    decoded = decode_sources(st[9], sectors, types)
    channels = decoded.shape[1]
    day_channels = 0  # the leading Z rows (all Z rows come first in the default layout)
    while day_channels < channels and decoded[0, day_channels] == 0:
        day_channels += 1
    zl = np.zeros(N_DAY)
    walks = np.zeros(sectors)  # per sector: demand walk, drift, scale, capacity (finite or not)
    s_drift = np.zeros(sectors)
    s_scale = np.zeros(sectors)
    s_capacity = np.zeros(sectors)
    s_limited = np.zeros(sectors, dtype=np.bool_)
    s_demand = np.zeros(sectors)  # the day's demand and served USD per sector
    s_served = np.zeros(sectors)
    s_count = np.zeros(sectors)  # devices per sector at the start of the day
    s_inv_count = np.zeros(sectors)  # 1 ÷ that (0 for none)
    inv_spans = np.zeros(max(ratios.shape[0] - 1, 1))  # 1 ÷ (r1 − r0) of each segment of w(r)
    dl = np.zeros((N_DEVICE_DAY, types))  # the ZD rows of the column
    dcol = np.zeros((N_DEVICE_PARAMS, types))  # the D rows of the column
    d_payback = np.zeros(types)  # hardware ÷ threshold of each device type (days × USD a day)
    d_inv_opex = np.zeros(types)  # 1 ÷ opex (0 for no opex: never read)
    inv_twap = 1.0 / twap
    # log(base_{t+1} ÷ base_t) of each day of the block and parameter set (once, not per column)
    base_step = np.zeros((t1 - t0, base_price.shape[1]))
    for t in range(t0, t1):
        for kk in range(base_price.shape[1]):
            base_step[t - t0, kk] = math.log(base_price[t + 1, kk] / base_price[t, kk])
    win = np.zeros(twap)
    for j in range(n):
        k = set_of[j]
        supply = x[X_SUPPLY, j]
        walk = x[X_WALK, j]
        price = x[X_PRICE, j]
        reported = x[X_REPORTED, j]
        twap_total = x[X_TWAP_TOTAL, j]
        age = x[X_AGE, j]
        remint_target = x[X_REMINT_TARGET, j]
        capped_power = x[X_CAPPED_POWER, j]
        baseline_minted = x[X_BASELINE_MINTED, j]
        emitted = x[X_EMITTED, j]
        expect = x[X_EXPECT, j]
        held_c = x[X_HELD_CONTRIBUTORS, j]
        held_o = x[X_HELD_OTHERS, j]
        staked = x[X_STAKED, j]
        unbonding = x[X_UNBONDING, j]
        spare = x[X_SPARE_NORMAL, j]
        has_spare = x[X_HAS_SPARE, j] > 0.0
        s0 = rng[0, j]
        s1 = rng[1, j]
        # the column's parameters
        max_burn_share = p[P_MAX_BURN_SHARE, j]
        miss = p[P_MISS, j]
        max_stale = p[P_MAX_STALE, j]
        start_day = p[P_START_DAY, j]
        fc_growth = p[P_FC_GROWTH, j]
        fc_b0 = p[P_FC_B0, j]
        fc_baseline = p[P_FC_BASELINE, j]
        fc_lambda = p[P_FC_LAMBDA, j]
        max_supply = p[P_MAX_SUPPLY, j]
        smoothing = p[P_SMOOTHING, j]
        remint_cap = p[P_REMINT_CAP, j]
        device_share = p[P_DEVICE_SHARE, j]
        stake_share = p[P_STAKE_SHARE, j]
        usage_cap = p[P_USAGE_CAP, j]
        to_coverage = p[P_TO_COVERAGE, j]
        max_hold = p[P_MAX_HOLD, j]
        sensitivity = p[P_SENSITIVITY, j]
        hurdle = p[P_HURDLE, j]
        cover_costs = p[P_COVER_COSTS, j]
        liquidation = p[P_LIQUIDATION, j]
        sell_fraction = p[P_SELL_FRACTION, j]
        unbond_rate = p[P_UNBOND_RATE, j]
        compound = p[P_COMPOUND, j]
        min_yield = p[P_MIN_YIELD, j]
        max_staked = p[P_MAX_STAKED, j]
        stake_adjust = p[P_STAKE_ADJUST, j]
        depth = p[P_DEPTH, j]
        impact = p[P_IMPACT, j]
        price_drift = p[P_PRICE_DRIFT, j]
        price_scale = p[P_PRICE_SCALE, j]
        expect_alpha = p[P_EXPECT_ALPHA, j]
        for s in range(sectors):
            walks[s] = xs[s, j]
            s_drift[s] = sp[S_DRIFT, s, j]
            s_scale[s] = sp[S_SCALE, s, j]
            s_capacity[s] = sp[S_CAPACITY, s, j]
            s_limited[s] = capacity_on and math.isfinite(s_capacity[s])
            s_demand[s] = zs[ZS_DEMAND, s, j]
            s_served[s] = zs[ZS_SERVED, s, j]
        for i in range(types):
            for r in range(N_DEVICE_DAY):
                dl[r, i] = zd[r, i, j]
            for r in range(N_DEVICE_PARAMS):
                dcol[r, i] = dp[r, i, j]
            d_payback[i] = dcol[D_HARDWARE, i] / dcol[D_THRESHOLD, i]
            d_inv_opex[i] = 1.0 / dcol[D_OPEX, i] if dcol[D_OPEX, i] > 0.0 else 0.0
        for i in range(ratios.shape[0] - 1):
            span = ratios[i + 1, j] - ratios[i, j]
            inv_spans[i] = 1.0 / span if span > 0.0 else 0.0
        for w in range(twap):
            win[w] = window[w, j]
        for c in range(N_DAY):
            zl[c] = z[c, j]
        slot = t0 % twap
        for t in range(t0, t1):
            # devices per sector (counts change only when devices join and leave, at the end of a day)
            for s in range(sectors):
                count = 0.0
                for i in range(types):
                    if sector_of[i] == s:
                        count += dl[ZD_COUNT, i]
                s_count[s] = count
                s_inv_count[s] = 1.0 / count if count > 0.0 else 0.0
            # the devices' total coverage weight and its reciprocal, off the day's chain of divisions
            total_weight = 0.0
            for i in range(types):
                total_weight += dcol[D_WEIGHT, i] * dl[ZD_COUNT, i]
            inv_total_weight = 1.0 / total_weight if total_weight > 0.0 else 0.0
            # ---- phase A: 1. demand and what the sectors' devices can serve
            demand = 0.0
            served = 0.0
            for s in range(sectors):
                d = trend[t, s, k]
                scale = s_scale[s]
                if scale > 0.0:
                    d *= math.exp(walks[s])
                    draw, s0, s1, spare, has_spare = _next_normal(s0, s1, spare, has_spare)
                    walks[s] += s_drift[s] + scale * draw
                served_s = d
                if s_limited[s]:
                    served_s = min(d, s_capacity[s] * s_count[s])
                s_demand[s] = d
                s_served[s] = served_s
                demand += d
                served += served_s
            locked = staked + unbonding + vest[t, k]
            circulating = supply - locked
            # 2. scarcity
            if scarcity_on and max_burn_share > 0.0:
                floor = served / (max_burn_share * max(circulating, 1.0))
                if floor > price:
                    walk += math.log(floor / price)
                    price = floor
            spot = price
            # 3. oracle
            oracle = spot
            halted = 0.0
            if oracle_on:
                draw, s0, s1 = _next_uniform(s0, s1)
                if draw >= miss:
                    age = 0.0
                    reported = spot
                else:
                    age += 1.0
                if slot == 0:  # slot = t % twap; the window's sum as phase A keeps it
                    win[0] = reported
                    twap_total = 0.0
                    for w in range(twap):
                        twap_total += win[w]
                else:
                    twap_total = twap_total + (reported - win[slot])
                    win[slot] = reported
                oracle = twap_total * inv_twap  # as phase A: total × (1 / twap)
                if age > max_stale:
                    halted = 1.0
                    served = 0.0
                    for s in range(sectors):
                        s_served[s] = 0.0
            slot += 1
            if slot == twap:
                slot = 0
            # 4. burn what circulates
            bought = served / max(oracle, MIN_PRICE_USD)
            burned = min(bought, max(circulating, 0.0))
            paid_share = burned / bought if bought > 0.0 and burned != bought else 1.0  # as phase A
            # 5. mint
            scheduled = mint_path[t, k]
            if filecoin_on:
                power = 0.0
                for i in range(types):
                    power += dcol[D_RAW_POWER, i] * dl[ZD_COUNT, i]
                ft0 = (start_day + t) / DAYS_PER_YEAR
                capped_power += capped_power_increment(
                    power, fc_b0, fc_growth, ft0, ft0 + 1.0 / DAYS_PER_YEAR
                )
                theta = math.log1p(fc_growth * capped_power / fc_b0) / fc_growth
                baseline = fc_baseline * (1.0 - math.exp(-fc_lambda * theta))
                scheduled = min(scheduled + baseline - baseline_minted, max_supply - emitted)
                baseline_minted = baseline
                emitted += scheduled
            remint = 0.0
            if remint_on:
                remint_target = (1.0 - smoothing) * remint_target + smoothing * burned
                remint = min(remint_target, remint_cap)
            minted = scheduled + remint
            supply += minted - burned
            # 6. reward policy
            ratio = burned / minted if minted > 0.0 else 0.0
            weight = interp_weight_spans(ratio, ratios, weights, inv_spans, j)
            zl[Z_DAY] = t
            zl[Z_PRICE] = spot
            zl[Z_ORACLE] = oracle
            zl[Z_HALTED] = halted
            zl[Z_DEMAND] = demand
            zl[Z_SERVED] = served
            zl[Z_BOUGHT] = bought
            zl[Z_BURNED] = burned
            zl[Z_PAID_SHARE] = paid_share
            zl[Z_REVENUE] = burned * oracle
            zl[Z_UNMET] = (bought - burned) * oracle
            zl[Z_SCHEDULED] = scheduled
            zl[Z_REMINT] = remint
            zl[Z_RATIO] = ratio
            zl[Z_WEIGHT] = weight
            # ---- phase B: 7. pay devices, cheaters and other recipients
            pool = minted * device_share
            stake_reward = minted * stake_share if staking_on else 0.0
            others = minted - pool - stake_reward
            usage_paid = 0.0
            coverage_paid = 0.0
            unminted = 0.0
            cheaters = 0.0
            rewards = 0.0
            opex = 0.0
            if types > 0:
                usage_pool = weight * pool
                carried = 0.0
                for s in range(sectors):
                    if s_count[s] > 0.0:
                        carried += s_served[s] * paid_share
                per_usd = min(usage_pool / max(carried, 1e-12), usage_cap / max(oracle, MIN_PRICE_USD))
                usage_paid = per_usd * carried
                left = usage_pool - usage_paid
                coverage_pool = pool - usage_pool + to_coverage * left
                unminted = (1.0 - to_coverage) * left
                per_weight = coverage_pool * inv_total_weight if total_weight > 0.0 else 0.0  # as phase B
                coverage_paid = per_weight * total_weight
                for i in range(types):
                    count = dl[ZD_COUNT, i]
                    coverage = per_weight * dcol[D_WEIGHT, i]
                    leak = dcol[D_LEAK, i]
                    cheaters += coverage * count * leak
                    s = sector_of[i]
                    sector_count = s_count[s]
                    usage = 0.0
                    if sector_count > 0.0:
                        usage = s_served[s] * paid_share * s_inv_count[s] * per_usd
                    tokens = coverage * (1.0 - leak) + usage
                    dl[ZD_TOKENS, i] = tokens
                    dl[ZD_EARNINGS, i] = tokens * spot
                    rewards += tokens * count
                    opex += dcol[D_OPEX, i] * count
                supply -= unminted
                minted -= unminted
            else:
                others += pool
            # 8. contributors' default decision
            if agents_on:
                h = max_hold / (1.0 + math.exp(-sensitivity * (expect - hurdle)))  # as `_hold_share`
                cost_tokens = min(cover_costs * opex / max(spot, MIN_PRICE_USD), rewards + held_c)
                surplus = max(rewards - cost_tokens, 0.0)
                from_holdings = max(cost_tokens - rewards, 0.0)
                decided = (
                    cost_tokens + (1.0 - h) * surplus + liquidation * (1.0 - h) * (held_c - from_holdings)
                )
            else:
                h = 1.0 - sell_fraction
                decided = sell_fraction * rewards
            # ---- phase C: 9. selling
            held = held_c
            sold_contributors = min(max(decided, 0.0), rewards + held)
            held_c = held + rewards - sold_contributors
            inflow = others + (vest[t, k] - vest[t + 1, k])
            if staking_on:
                released = unbonding * unbond_rate
                unbonding -= released
                inflow += released + (1.0 - compound) * stake_reward
                staked += compound * stake_reward
            held_others = held_o
            if agents_on:
                sold_others = (1.0 - h) * inflow + liquidation * (1.0 - h) * held_others
                sold = sold_contributors + sold_others + cheaters
            else:
                sold_others = sell_fraction * inflow
                sold = sell_fraction * minted
            held_o = held_others + inflow - sold_others
            if staking_on:
                wanted = max(hurdle - expect, min_yield)
                target = stake_reward * DAYS_PER_YEAR / wanted
                target = min(target, max_staked * supply)
                change = (target - staked) * stake_adjust
                if change > 0.0:
                    free = supply - staked - unbonding - vest[t + 1, k]
                    change = min(change, max(free, 0.0))
                    staked += change
                else:
                    staked += change
                    unbonding -= change
            # devices join and leave
            devices = 0.0
            for i in range(types):
                count = dl[ZD_COUNT, i]
                earnings = dl[ZD_EARNINGS, i]
                dopex = dcol[D_OPEX, i]
                margin = earnings - dopex
                attract = 0.0
                distress = 0.0
                if margin > 0.0:
                    attract = min(max(1.0 - d_payback[i] / margin, 0.0), 1.0)
                elif dopex > 0.0:
                    distress = min(max((dopex - earnings) * d_inv_opex[i], 0.0), 1.0)
                expected = dcol[D_JOIN_RATE, i] * (count + dcol[D_JOIN_FLOOR, i]) * attract
                expected += dcol[D_ORGANIC, i] * count
                joins, s0, s1 = _next_poisson(s0, s1, min(expected, 1e12))
                leave_p = min(dcol[D_BASE_CHURN, i] + dcol[D_LEAVE_RATE, i] * distress, 1.0)
                leaves, s0, s1 = _next_poisson(s0, s1, min(count * leave_p, 1e12))
                leaves = min(leaves, count)
                count = count + joins - leaves
                dl[ZD_COUNT, i] = count
                dl[ZD_JOINS, i] = joins
                dl[ZD_LEAVES, i] = leaves
                devices += count
            # 10. the price moves; expectations follow
            walk_spot = walk
            if market_on:
                flow = (burned - sold) * spot / depth
                push = min(max(impact * flow, -MAX_DAILY_PUSH), MAX_DAILY_PUSH)
                walk += price_drift + push
            else:
                walk += price_drift
            if random_price:
                draw, s0, s1, spare, has_spare = _next_normal(s0, s1, spare, has_spare)
                walk += price_scale * draw
            price = base_price[t + 1, k] * math.exp(walk)
            if (agents_on or staking_on) and spot > 0.0 and price > 0.0:
                daily = ((walk - walk_spot) + base_step[t - t0, k]) * DAYS_PER_YEAR  # as phase C
                expect += expect_alpha * (daily - expect)
            locked_next = staked + unbonding + vest[t + 1, k]
            zl[Z_MINTED] = minted
            zl[Z_USAGE_PAID] = usage_paid
            zl[Z_COVERAGE_PAID] = coverage_paid
            zl[Z_UNMINTED] = unminted
            zl[Z_CHEATERS] = cheaters
            zl[Z_CONTRIBUTOR_REWARDS] = rewards
            zl[Z_OPEX_USD] = opex
            zl[Z_OTHERS_INFLOW] = others
            zl[Z_STAKE_REWARD] = stake_reward
            zl[Z_INCENTIVES] = minted * spot
            zl[Z_HOLD] = h
            zl[Z_SOLD_CONTRIBUTORS] = decided
            zl[Z_SOLD] = sold
            zl[Z_SUPPLY] = supply
            zl[Z_LOCKED] = locked_next
            zl[Z_CIRCULATING] = supply - locked_next
            zl[Z_STAKED] = staked
            zl[Z_HOLDINGS] = held_c + held_o
            zl[Z_EXPECT] = expect
            zl[Z_DEVICES] = devices
            # record (as `_record`): the day's values, then sectors' demand, then device rows
            point = point_of[t]
            start = ends[point - 1] if point > 0 else 0
            if start == t and ends[point] == t + 1:  # a one-day window: the accumulator's 0.0 + value
                for r in range(day_channels):
                    records[j, point, r] = 0.0 + zl[decoded[1, r]]
                for r in range(day_channels, channels):
                    kind = decoded[0, r]
                    if kind == 0:
                        value = zl[decoded[1, r]]
                    elif kind == 1:
                        value = s_demand[decoded[2, r]]
                    else:
                        value = dl[decoded[1, r], decoded[2, r]]
                    records[j, point, r] = 0.0 + value
            else:
                for r in range(day_channels):
                    acc[j, r] += zl[decoded[1, r]]
                for r in range(day_channels, channels):
                    kind = decoded[0, r]
                    if kind == 0:
                        acc[j, r] += zl[decoded[1, r]]
                    elif kind == 1:
                        acc[j, r] += s_demand[decoded[2, r]]
                    else:
                        acc[j, r] += dl[decoded[1, r], decoded[2, r]]
                if t + 1 == ends[point]:
                    length = float(t + 1 - start)
                    for r in range(channels):
                        records[j, point, r] = acc[j, r] / length
                        acc[j, r] = 0.0
        x[X_SUPPLY, j] = supply
        x[X_WALK, j] = walk
        x[X_PRICE, j] = price
        x[X_REPORTED, j] = reported
        x[X_TWAP_TOTAL, j] = twap_total
        x[X_AGE, j] = age
        x[X_REMINT_TARGET, j] = remint_target
        x[X_CAPPED_POWER, j] = capped_power
        x[X_BASELINE_MINTED, j] = baseline_minted
        x[X_EMITTED, j] = emitted
        x[X_EXPECT, j] = expect
        x[X_HELD_CONTRIBUTORS, j] = held_c
        x[X_HELD_OTHERS, j] = held_o
        x[X_STAKED, j] = staked
        x[X_UNBONDING, j] = unbonding
        x[X_SPARE_NORMAL, j] = spare
        x[X_HAS_SPARE, j] = 1.0 if has_spare else 0.0
        rng[0, j] = s0
        rng[1, j] = s1
        for s in range(sectors):
            xs[s, j] = walks[s]
            zs[ZS_DEMAND, s, j] = s_demand[s]
            zs[ZS_SERVED, s, j] = s_served[s]
        for i in range(types):
            for r in range(N_DEVICE_DAY):
                zd[r, i, j] = dl[r, i]
        for w in range(twap):
            window[w, j] = win[w]
        for c in range(N_DAY):
            z[c, j] = zl[c]
