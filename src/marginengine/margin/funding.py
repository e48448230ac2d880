"""Funding rates and funding-index moves, as each protocol computes them. Pure functions.

Five formulas, chosen by ``funding.formula`` (:class:`~marginengine.config.perp.FundingConfig`):

- ``binance``: the rate of one interval is ``clamp(P + clamp(I - P, -c, c), -cap, cap)``,
  premium, interest and clamp all per interval (Binance USDⓈ-M's shape over its 8-hour
  interval). :func:`interval_rate` with ``period == interval``.
- ``hyperliquid``: Hyperliquid docs, Trading > Funding
  (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding): "F = Average Premium
  Index (P) + clamp (interest rate - Premium Index (P), -0.0005, 0.0005)" is an **8-hour**
  rate; "funding is paid every hour at one eighth of the computed 8-hour rate", and
  "funding is capped at 4%/hour". :func:`interval_rate` with ``period = 8 h``,
  ``interval = 1 h``: ``clamp(F * interval / period, -cap, cap)``.
- ``dydx-v4``: dydxprotocol/v4-chain, protocol/x/perpetuals/keeper/perpetual.go
  ``MaybeProcessNewFundingTickEpoch`` and protocol/x/perpetuals/funding/funding.go
  ``GetFundingIndexDelta``: the 8-hour rate in whole ppm is the average of the tick's
  premium samples (padded with zeros to the expected count, tails removed, average rounded
  toward zero) plus ``default_funding_ppm``, clamped to ``clamp_factor x (IMF - MMF)``; the
  funding index moves by ``trunc(trunc(rate x tick x price) / 28,800)`` in ppm of quote
  quantums per base quantum. :func:`dydx_funding_rate_ppm`, :func:`dydx_funding_index_delta`.
- ``drift-v2``: drift-labs/protocol-v2@0ae3e3b1 programs/drift/src/controller/funding.rs
  ``update_funding_rate``: the spread of the mark over the oracle (PRICE_PRECISION, 1e6)
  plus the offset ``oracle / 5000`` is clamped to the contract tier's largest divergence
  (state/perp_market.rs ``get_max_price_divergence_for_funding_rate``: ``oracle / 33`` for
  tiers A and B, ``/ 20`` for C, ``/ 10`` below), then ``x 1000 / (24 h / period)``: the
  rate in FUNDING_RATE_PRECISION (1e9), quote per whole base token per period, every
  division truncating toward zero as Rust's. :func:`drift_funding_rate`.
- ``mango-v4``: blockworks-foundation/mango-v4@1303a4a1 programs/mango-v4/src/state/
  perp_market.rs ``update_funding_and_stable_price``: the daily rate ``book / oracle - 1``
  clamped to ``[min_funding, max_funding]``; each update pays ``oracle x rate x dt / day``
  per base (``long_funding`` and ``short_funding`` both rise: longs pay, shorts receive,
  ``PerpPosition::settle_funding``), ``dt`` at most an hour. :func:`mango_funding_rate`.

Rates of the first two are exact rationals (:class:`fractions.Fraction`): nothing is
truncated to ppm. The funding index of :mod:`marginengine.ledger.perp` is in quote smallest
units x ``FUNDING_SCALE`` (1e18) per whole base token; :func:`index_delta` converts a rate to
it, rounded toward zero at that scale, and a dYdX delta converts to it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from marginengine.config.perp import PerpMarketConfig, to_ppm
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.perp import FUNDING_SCALE

PPM: int = 1_000_000
#: dYdX v4 divides by 60 * 60 * 8 (funding.go, "TODO(DEC-1536): Make the 8-hour funding
#: rate period configurable"); Hyperliquid's rate is also an 8-hour rate.
EIGHT_HOURS: int = 8 * 3600


def _clamp(value: Fraction, bound: Fraction) -> Fraction:
    return max(-bound, min(bound, value))


def premium(mark: int, index: int) -> Fraction:
    """Return the premium ``(mark - index) / index``, exact.

    Raises
    ------
    ValueError
        If ``index`` is not positive.
    """
    if index <= 0:
        raise ValueError(f"index must be positive (got {index})")
    return Fraction(mark - index, index)


def interval_rate(
    premium_rate: Fraction,
    interest: Fraction,
    interest_clamp: Fraction,
    cap: Fraction,
    interval: int,
    period: int,
) -> Fraction:
    """Return the funding rate paid over one ``interval``, exact.

    ``F = P + clamp(I - P, -interest_clamp, interest_clamp)`` is the rate over ``period``
    seconds (premium, interest and clamp all per ``period``); one interval pays
    ``F * interval / period``, clamped to ``[-cap, cap]`` (``cap`` per interval).
    Hyperliquid: ``period = 28,800``, ``interval = 3,600``, ``interest = 0.0001``,
    ``interest_clamp = 0.0005``, ``cap = 0.04``. Binance: ``period == interval``.

    Raises
    ------
    ValueError
        If ``interval`` or ``period`` is not positive, or a clamp or cap is negative.
    """
    if interval <= 0 or period <= 0:
        raise ValueError(f"interval and period must be positive (got {interval}, {period})")
    if interest_clamp < 0 or cap < 0:
        raise ValueError(f"interest_clamp and cap must be non-negative "
                         f"(got {interest_clamp}, {cap})")
    rate = premium_rate + _clamp(interest - premium_rate, interest_clamp)
    return _clamp(rate * interval / period, cap)


def index_delta(rate: Fraction, index_price: int, quote_unit: int) -> int:
    """Return the funding-index move of one interval at ``rate``, rounded toward zero.

    The index is quote smallest units x ``FUNDING_SCALE`` per whole base token: a long of
    one token pays ``rate x index_price`` (Hyperliquid: "position_size x oracle_price x
    funding_rate"). Rounding toward zero at 1e-18 of a quote unit per token is far below
    the unit that settlement rounds to (payments up, receipts down).
    """
    if index_price <= 0 or quote_unit <= 0:
        raise ValueError(f"index_price and quote_unit must be positive "
                         f"(got {index_price}, {quote_unit})")
    exact = rate * index_price * quote_unit * FUNDING_SCALE / PRICE_UNIT
    return int(exact)  # int() of a Fraction truncates toward zero


# ------------------------------------------------------------------ dYdX v4
def dydx_premium_ppm(impact_price: int, index: int, max_abs_premium_ppm: int) -> int:
    """Return a dYdX premium vote, ppm: ``impact / index - 1``, toward zero, clamped.

    protocol/x/clob/memclob/memclob.go ``getPricePremiumFromSide``: the premium is rounded
    toward zero and clamped to ``[-max, max]`` with ``max = premium_vote_clamp_factor x
    (IMF - MMF)`` (:func:`dydx_max_abs_clamp_ppm`). The engine uses its mark price as the
    impact price.
    """
    if index <= 0 or impact_price < 0:
        raise ValueError(f"index must be positive and impact_price non-negative "
                         f"(got {index}, {impact_price})")
    if max_abs_premium_ppm < 0:
        raise ValueError(f"max_abs_premium_ppm must be non-negative (got {max_abs_premium_ppm})")
    value = int(Fraction((impact_price - index) * PPM, index))  # toward zero
    return max(-max_abs_premium_ppm, min(max_abs_premium_ppm, value))


def dydx_max_abs_clamp_ppm(clamp_factor_ppm: int, imf_ppm: int, maintenance_fraction_ppm: int
                           ) -> int:
    """Return ``|R| <= clamp_factor x (IMF - MMF)`` in ppm, as dYdX floors it.

    protocol/x/perpetuals/types/liquidity_tier.go ``GetMaxAbsFundingClampPpm``:
    ``MMF = floor(IMF x maintenance_fraction / 1e6)`` (``GetMaintenanceMarginPpm``), then
    ``floor(clamp_factor x (IMF - MMF) / 1e6)`` (``BigIntMulPpm``).
    """
    for name, value in (("clamp_factor_ppm", clamp_factor_ppm), ("imf_ppm", imf_ppm),
                        ("maintenance_fraction_ppm", maintenance_fraction_ppm)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative (got {value})")
    if imf_ppm > PPM or maintenance_fraction_ppm > PPM:
        raise ValueError(f"imf_ppm and maintenance_fraction_ppm must be at most {PPM} "
                         f"(got {imf_ppm}, {maintenance_fraction_ppm})")
    mmf_ppm = imf_ppm * maintenance_fraction_ppm // PPM
    return clamp_factor_ppm * (imf_ppm - mmf_ppm) // PPM


def _avg_toward_zero(values: Sequence[int]) -> int:
    """dYdX ``lib.AvgInt32``: the average, rounded toward zero."""
    return int(Fraction(sum(values), len(values))) if values else 0


def dydx_funding_rate_ppm(
    samples_ppm: Sequence[int],
    min_samples: int,
    default_funding_ppm: int,
    max_abs_rate_ppm: int,
    tail_removal_ppm: int = 0,
) -> int:
    """Return dYdX v4's 8-hour funding rate of one funding tick, whole ppm.

    ``MaybeProcessNewFundingTickEpoch`` (protocol/x/perpetuals/keeper/perpetual.go):

    1. pad the tick's premium samples with zeros up to ``min_samples`` (``ceil(tick /
       sample duration)``: 60 for a 1-hour tick of 1-minute samples) (``processStoredPremiums``);
    2. sort and drop ``floor(n x 2 x tail_removal / 1e6)`` samples, half from the bottom and
       the rest from the top (``GetRemoveSampleTailsFunc``; ``RemovedTailSampleRatioPpm`` is
       0 in types/constants.go); nothing is dropped if that would drop all;
    3. average, rounded toward zero (``lib.AvgInt32``);
    4. add ``default_funding_ppm`` and clamp to ``[-max, max]`` (:func:`dydx_max_abs_clamp_ppm`).
    """
    if min_samples < 0 or max_abs_rate_ppm < 0 or not 0 <= tail_removal_ppm <= PPM:
        raise ValueError(f"min_samples and max_abs_rate_ppm must be non-negative and "
                         f"tail_removal_ppm within 0..{PPM} (got {min_samples}, "
                         f"{max_abs_rate_ppm}, {tail_removal_ppm})")
    padded = list(samples_ppm) + [0] * max(min_samples - len(samples_ppm), 0)
    removal = len(padded) * (tail_removal_ppm * 2) // PPM
    if 0 < removal < len(padded):
        bottom = removal // 2
        padded = sorted(padded)[bottom:len(padded) - (removal - bottom)]
    rate = _avg_toward_zero(padded) + default_funding_ppm
    return max(-max_abs_rate_ppm, min(max_abs_rate_ppm, rate))


def dydx_funding_index_delta(
    rate_8h_ppm: int, tick_seconds: int, index_price: int, base_unit: int, quote_unit: int
) -> int:
    """Return dYdX v4's funding-index move, in its unit: ppm of quote quantums per base
    quantum.

    protocol/x/perpetuals/funding/funding.go ``GetFundingIndexDelta``::

        delta = trunc(BaseToQuoteQuantums(tick_seconds x rate_ppm, price) / 28,800)

    where ``BaseToQuoteQuantums`` (protocol/lib/quantums.go) converts ``x`` base quantums
    to quote quantums, truncated toward zero; with our prices (quote per whole base token,
    ``PRICE_UNIT`` fixed point) that is ``trunc(x x price x quote_unit / (PRICE_UNIT x
    base_unit))``. Both truncations are toward zero, as Go's ``big.Int.Quo``. (dYdX's own
    price exponent differs per market, so the first truncation happens at its precision
    there and at ours here.)
    """
    if tick_seconds <= 0 or index_price <= 0 or base_unit <= 0 or quote_unit <= 0:
        raise ValueError(f"tick_seconds, index_price, base_unit and quote_unit must be "
                         f"positive (got {tick_seconds}, {index_price}, {base_unit}, "
                         f"{quote_unit})")
    scaled = tick_seconds * rate_8h_ppm
    quote = int(Fraction(scaled * index_price * quote_unit, PRICE_UNIT * base_unit))
    return int(Fraction(quote, EIGHT_HOURS))


def dydx_delta_to_index(delta_ppm_per_quantum: int, base_unit: int) -> int:
    """Convert a dYdX index delta (ppm of quote quantums per base quantum) to the ledger's
    funding index (quote units x ``FUNDING_SCALE`` per whole base token), exactly.

    ``base_unit`` is the number of dYdX base quanta in one token (``10**-atomic_resolution``).
    ``FUNDING_SCALE / PPM`` is an integer, so the conversion is a multiplication: a position
    of ``q`` quanta then settles ``q x delta / 1e6`` quote units, dYdX's
    ``GetSettlementPpm`` divided by one million (rounded against the position, as dYdX's
    Euclidean ``Div`` of the signed settlement does; dYdX divides the sum over a
    subaccount's positions, we divide each position's).
    """
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    return delta_ppm_per_quantum * base_unit * (FUNDING_SCALE // PPM)


# ------------------------------------------------------------------ Drift v2
#: Drift's contract tiers, safest first (state/perp_market.rs ``ContractTier``; a tier is
#: "as safe as" another when it comes no later, ``is_as_safe_as_contract``).
DRIFT_CONTRACT_TIERS: tuple[str, ...] = ("A", "B", "C", "Speculative", "HighlySpeculative",
                                         "Isolated")
#: Drift's PRICE_PRECISION (math/constants.rs).
DRIFT_PRICE_PRECISION: int = 10**6
#: FUNDING_RATE_BUFFER: a funding rate is a price x 1e3 (FUNDING_RATE_PRECISION 1e9).
DRIFT_FUNDING_RATE_BUFFER: int = 1_000
#: FUNDING_RATE_OFFSET_DENOMINATOR: the offset ``oracle / 5000`` a period (7.3% a year
#: with hourly funding).
DRIFT_FUNDING_RATE_OFFSET_DENOMINATOR: int = 5_000


def _div_toward_zero(a: int, b: int) -> int:
    # Rust's integer division (safe_div on i64/i128) truncates toward zero.
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def drift_max_price_divergence(contract_tier: str, oracle_twap: int) -> int:
    """Return Drift's largest price spread the funding rate may use (PRICE_PRECISION).

    ``get_max_price_divergence_for_funding_rate``: 3% (``oracle / 33``) for tiers as safe
    as B, 5% (``/ 20``) for C, 10% (``/ 10``) for Speculative, HighlySpeculative and
    Isolated; truncated toward zero.

    Examples
    --------
    Drift's own test (math/funding/tests.rs ``max_funding_rates``, oracle TWAP 49):

    >>> drift_max_price_divergence("HighlySpeculative", 49_000_000)
    4900000
    >>> drift_max_price_divergence("B", 49_000_000)
    1484848

    Raises
    ------
    ValueError
        For a tier Drift does not have.
    """
    if contract_tier not in DRIFT_CONTRACT_TIERS:
        raise ValueError(f"contract_tier: unknown Drift contract tier {contract_tier!r} "
                         f"(one of {', '.join(DRIFT_CONTRACT_TIERS)})")
    rank = DRIFT_CONTRACT_TIERS.index(contract_tier)
    divisor = 33 if rank <= 1 else 20 if rank == 2 else 10
    return _div_toward_zero(oracle_twap, divisor)


def drift_funding_rate(mark_twap: int, oracle_twap: int, contract_tier: str,
                       funding_period: int) -> int:
    """Return Drift's funding rate of one period (FUNDING_RATE_PRECISION, 1e9: quote per
    whole base token; longs pay when positive).

    ``update_funding_rate``: ``spread = mark_twap - oracle_twap + |oracle_twap| / 5000``,
    clamped to ``+-`` :func:`drift_max_price_divergence`, then ``spread x 1000 /
    period_adjustment`` with ``period_adjustment = 86,400 / max(3,600, funding_period)``;
    every division truncates toward zero. Prices are PRICE_PRECISION (1e6). The cap to
    the AMM's fee pool of ``calculate_funding_rate_long_short`` is not applied (the
    engine has no Drift AMM).

    Examples
    --------
    Drift's own test (math/funding/tests.rs ``unsettled_funding_pnl``: mark TWAP
    47.629736, oracle TWAP 51, hourly, the default HighlySpeculative tier):

    >>> drift_funding_rate(47_629_736, 51_000_000, "HighlySpeculative", 3600)
    -140002666

    Raises
    ------
    ValueError
        For an unknown tier, or a non-positive oracle TWAP or period.
    """
    if oracle_twap <= 0 or funding_period <= 0:
        raise ValueError(f"oracle_twap and funding_period must be positive (got "
                         f"{oracle_twap}, {funding_period})")
    period_adjustment = 24 * 3600 // max(3600, funding_period)
    spread = mark_twap - oracle_twap + abs(oracle_twap) // DRIFT_FUNDING_RATE_OFFSET_DENOMINATOR
    bound = drift_max_price_divergence(contract_tier, oracle_twap)
    clamped = max(-bound, min(bound, spread))
    return _div_toward_zero(clamped * DRIFT_FUNDING_RATE_BUFFER, period_adjustment)


# ------------------------------------------------------------------ one market's interval
@dataclass(frozen=True)
class FundingStep:
    """The funding of one interval of one market.

    Attributes
    ----------
    rate
        The rate paid over the interval (longs pay when positive), exact.
    index_delta
        The move of the ledger's funding index (quote units x ``FUNDING_SCALE`` per whole
        base token).
    rate_8h_ppm
        dYdX only: the clamped 8-hour rate in whole ppm (its indexer's ``FundingValuePpm``).
    """

    rate: Fraction
    index_delta: int
    rate_8h_ppm: int | None = None


#: Mango's ``max_funding_timestep``: one update applies at most an hour of funding.
MANGO_MAX_FUNDING_TIMESTEP: int = 3600
DAY: int = 86_400


def mango_funding_rate(mark: int, index: int, min_funding: Fraction, max_funding: Fraction,
                       elapsed: int) -> Fraction:
    """Mango v4's funding of one update, as a fraction of the oracle price per base, exact.

    ``PerpMarket::update_funding_and_stable_price``: the daily rate ``mark / index - 1``
    (Mango: the mid of the book's impact prices over the oracle) clamped to
    ``[min_funding, max_funding]``, times ``min(elapsed, 3600) / 86,400`` (at most an hour
    per update). Positive: longs pay.

    >>> mango_funding_rate(2_002, 2_000, Fraction(-5, 100), Fraction(5, 100), 3_600)
    Fraction(1, 24000)
    """
    if elapsed < 0:
        raise ValueError(f"elapsed must be non-negative (got {elapsed})")
    daily = max(min_funding, min(max_funding, premium(mark, index)))
    return daily * min(elapsed, MANGO_MAX_FUNDING_TIMESTEP) / DAY


def funding_step(perp: PerpMarketConfig, mark: int, index: int, quote_unit: int) -> FundingStep:
    """Return the funding of one interval of ``perp`` at ``mark`` over ``index``.

    The engine has the premium at the interval boundary only: for dYdX it stands for every
    one of the tick's ``interval / sample_interval`` samples (so the padding never bites),
    for Hyperliquid for the hour's average premium.
    """
    funding = perp.funding
    if funding.formula == "dydx-v4":
        tier = perp.tiers[0]
        imf_ppm = to_ppm(tier.imf, "tiers.0.imf")
        fraction_ppm = perp.maintenance_fraction_ppm
        vote_bound = dydx_max_abs_clamp_ppm(to_ppm(funding.premium_vote_clamp_factor,
                                                   "funding.premium_vote_clamp_factor"),
                                            imf_ppm, fraction_ppm)
        rate_bound = dydx_max_abs_clamp_ppm(to_ppm(funding.clamp_factor, "funding.clamp_factor"),
                                            imf_ppm, fraction_ppm)
        count = -(-funding.interval // funding.sample_interval)  # MustDivideUint32RoundUp
        sample = dydx_premium_ppm(mark, index, vote_bound)
        rate_ppm = dydx_funding_rate_ppm([sample] * count, count,
                                         to_ppm(funding.interest, "funding.interest"), rate_bound)
        # dYdX truncates per base quantum of its market (10**atomic_resolution tokens), so
        # the move is computed at that quantum and converted to the ledger's index exactly.
        quantum_unit = 10 ** -funding.atomic_resolution
        delta = dydx_funding_index_delta(rate_ppm, funding.interval, index, quantum_unit,
                                         quote_unit)
        return FundingStep(Fraction(rate_ppm * funding.interval, PPM * EIGHT_HOURS),
                           dydx_delta_to_index(delta, quantum_unit), rate_ppm)
    if funding.formula == "drift-v2":
        # The engine's prices (8 decimals) at Drift's PRICE_PRECISION (1e6), truncated.
        scale = PRICE_UNIT // DRIFT_PRICE_PRECISION
        rate_1e9 = drift_funding_rate(mark // scale, index // scale, funding.contract_tier,
                                      funding.interval)
        # quote per whole base token x 1e9 -> the ledger's index: exact (1e18 / 1e9).
        scale_index = FUNDING_SCALE // (DRIFT_PRICE_PRECISION * DRIFT_FUNDING_RATE_BUFFER)
        return FundingStep(Fraction(rate_1e9 * PRICE_UNIT,
                                    DRIFT_PRICE_PRECISION * DRIFT_FUNDING_RATE_BUFFER * index),
                           rate_1e9 * quote_unit * scale_index)
    if funding.formula == "mango-v4":
        low, high = funding.funding_bounds
        rate = mango_funding_rate(mark, index, Fraction(low), Fraction(high), funding.interval)
        return FundingStep(rate, index_delta(rate, index, quote_unit))
    rate = interval_rate(premium(mark, index), Fraction(funding.interest),
                         Fraction(funding.clamp), Fraction(funding.interval_cap),
                         funding.interval, funding.rate_period)
    return FundingStep(rate, index_delta(rate, index, quote_unit))
