"""Index layout of the compiled model's arrays (parameters, flags, state, the day's values), without numba.

The kernel (:mod:`.kernel`) reads these as compile-time constants; the model (:mod:`.model`) fills the arrays
and the channel layout (:mod:`.channels`) names the day's values, so that neither needs numba to be imported.
"""

from __future__ import annotations

MIN_PRICE_USD = 1e-12
MAX_DAILY_PUSH = 0.5
POISSON_INVERSION_MAX = 10.0  # inversion below this mean, Hörmann's PTRS (exact) from it
DAYS_PER_YEAR = 365.0

# ---- per-column parameters P[k, N] -----------------------------------------------------------------------
P_PRICE_DRIFT = 0
P_PRICE_SCALE = 1
P_IMPACT = 2
P_DEPTH = 3
P_SELL_FRACTION = 4
P_MAX_BURN_SHARE = 5
P_MISS = 6
P_MAX_STALE = 7
P_REMINT_CAP = 8
P_SMOOTHING = 9
P_DEVICE_SHARE = 10
P_STAKE_SHARE = 11
P_USAGE_CAP = 12
P_TO_COVERAGE = 13
P_MAX_SUPPLY = 14
P_COVER_COSTS = 15
P_HURDLE = 16
P_SENSITIVITY = 17
P_MAX_HOLD = 18
P_EXPECT_ALPHA = 19
P_LIQUIDATION = 20
P_COMPOUND = 21
P_MIN_YIELD = 22
P_STAKE_ADJUST = 23
P_UNBOND_RATE = 24
P_MAX_STAKED = 25
P_FC_LAMBDA = 26
P_FC_GROWTH = 27
P_FC_B0 = 28
P_FC_BASELINE = 29
P_START_DAY = 30
N_PARAMS = 31

# ---- flags F[k] (0/1) ----------------------------------------------------------------------------------
F_MARKET = 0
F_PRICE_RANDOM = 1
F_ORACLE = 2
F_REMINT = 3
F_FILECOIN = 4
F_CAPACITY = 5
F_SCARCITY = 6
F_AGENTS = 7
F_STAKING = 8
F_TWAP = 9
N_FLAGS = 10

# ---- per device type D[k, types, N] ----------------------------------------------------------------------
D_WEIGHT = 0
D_HARDWARE = 1
D_OPEX = 2
D_THRESHOLD = 3
D_JOIN_RATE = 4
D_JOIN_FLOOR = 5
D_ORGANIC = 6
D_LEAVE_RATE = 7
D_BASE_CHURN = 8
D_RAW_POWER = 9
D_LEAK = 10
N_DEVICE_PARAMS = 11

# ---- per sector S[k, sectors, N] -------------------------------------------------------------------------
S_DRIFT = 0
S_SCALE = 1
S_CAPACITY = 2
N_SECTOR_PARAMS = 3

# ---- state X[k, N] -------------------------------------------------------------------------------------
X_SUPPLY = 0
X_WALK = 1
X_PRICE = 2
X_REPORTED = 3
X_AGE = 4
X_REMINT_TARGET = 5
X_CAPPED_POWER = 6
X_BASELINE_MINTED = 7
X_EMITTED = 8
X_EXPECT = 9
X_HELD_CONTRIBUTORS = 10
X_HELD_OTHERS = 11
X_STAKED = 12
X_UNBONDING = 13
X_SPARE_NORMAL = 14
X_HAS_SPARE = 15
X_TWAP_TOTAL = 16  # the sum of the TWAP window (kept from day to day, summed afresh when the window restarts)
N_STATE = 17

# ---- the day's values Z[k, N] (read by custom policies and recorded as channels) --------------------------
Z_DAY = 0
Z_PRICE = 1
Z_ORACLE = 2
Z_HALTED = 3
Z_DEMAND = 4
Z_SERVED = 5
Z_BOUGHT = 6
Z_BURNED = 7
Z_REVENUE = 8
Z_UNMET = 9
Z_SCHEDULED = 10
Z_REMINT = 11
Z_MINTED = 12
Z_RATIO = 13
Z_WEIGHT = 14
Z_USAGE_PAID = 15
Z_COVERAGE_PAID = 16
Z_UNMINTED = 17
Z_CHEATERS = 18
Z_CONTRIBUTOR_REWARDS = 19
Z_OPEX_USD = 20
Z_HOLD = 21
Z_SOLD_CONTRIBUTORS = 22
Z_SOLD = 23
Z_SUPPLY = 24
Z_CIRCULATING = 25
Z_LOCKED = 26
Z_STAKED = 27
Z_HOLDINGS = 28
Z_EXPECT = 29
Z_INCENTIVES = 30
Z_DEVICES = 31
Z_OTHERS_INFLOW = 32
Z_STAKE_REWARD = 33
Z_PAID_SHARE = 34
N_DAY = 35

# ---- per sector ZS[k, sectors, N] and per device type ZD[k, types, N] --------------------------------------
ZS_DEMAND = 0
ZS_SERVED = 1
N_SECTOR_DAY = 2
ZD_COUNT = 0
ZD_TOKENS = 1
ZD_EARNINGS = 2
ZD_JOINS = 3
ZD_LEAVES = 4
N_DEVICE_DAY = 5
