"""Auto-deleveraging: who takes over a bankrupt position, how much, and at what cost.

When a position is bankrupt and the insurance fund cannot absorb it, it is closed against
positions on the other side at its bankruptcy price. This module decides the split. It is a
pure rule: the engine passes the candidates (every position on the opposite side, with its
account's equity and maintenance requirement) and applies the fills.

Five policies (:class:`AdlPolicy`), each naming its source (:attr:`AdlPolicy.source`):

- ``PNL_LEVERAGE``: BitMEX's and Binance's queue. Rank by PnL% x effective leverage
  (:func:`adl_score`), fill the first candidate fully, then the next. Deterministic, and
  concentrates the cost on the most profitable, most levered accounts.
- ``HYPERLIQUID_INDEX``: Hyperliquid's queue. Rank by its documented sorting index
  ``(mark_price / entry_price) * (notional_position / account_value)`` (Hyperliquid docs,
  Trading > Auto-deleveraging, https://hyperliquid.gitbook.io/hyperliquid-docs/trading/
  auto-deleveraging): candidates in profit first, each group by index, highest first
  (:func:`hyperliquid_adl_index`).
- ``PRO_RATA_PROFIT``: split among profitable candidates in proportion to their unrealized
  profit (no candidate closed beyond its size; any excess redistributed); if the profitable
  exposure is too small, close it all and split the rest over the others by size.
- ``RISK_AWARE``: as ``PRO_RATA_PROFIT`` but the weight of a profitable candidate is its
  profit x its effective leverage (``upnl * |notional| / equity``). Why: profit is what pays
  the haircut (a candidate is closed at the bankrupt position's price, not at mark), and
  leverage is where the next cascade comes from (a highly levered winner is the account most
  likely to become the next bankrupt if the price turns). Weighting by both spreads the
  cost instead of wiping out the head of a queue, yet still removes most exposure from the
  thinnest buffers. It is the pro-rata counterpart of the ``PNL_LEVERAGE`` ranking signal.

- ``DYDX_OFFSET``: dYdX v4's deleveraging (dydxprotocol/v4-chain@84d4664b,
  ``protocol/x/clob/keeper/deleveraging.go`` ``OffsetSubaccountPerpetualPosition``): no
  ranking. The subaccounts with an opposite position are taken in their stored order (here
  by account id, dYdX's daemon lists them in state-key order) starting from a pseudo-random
  index and wrapping around, at most ``MaxDeleveragingSubaccountsToIterate`` (500) of them;
  each closes as much of its position as is left to close (:func:`dydx_offset_order`). The
  start is a deterministic function of the block (:func:`dydx_start_offset`). Every fill is
  at the bankruptcy price of the closed size (the engine computes dYdX's quote fill by
  fill). dYdX also skips a subaccount whose fill would leave it failing its collateral
  check; the engine's event is one transaction with no per-fill rollback, so that skip
  is not modelled (docs/perps.md).

Splits are exact: shares are computed over exact rationals, floored, and the few leftover
units go to the largest remainders (ties by account id), so the sizes closed add up to
``|size_to_close|`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from hashlib import sha256
from math import lcm

from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_UNIT


@dataclass(frozen=True)
class AdlCandidate:
    """One position that can take over (part of) a bankrupt position.

    Attributes
    ----------
    account
        The account id; unique among the candidates (it breaks ties).
    size
        Signed position size, base smallest units; opposite in sign to the bankrupt one.
    quote_balance
        The position's cash-flow quote balance, quote smallest units: minus the entry cost
        for a long, plus the entry proceeds for a short. ``quote_balance + value at mark``
        is the position's unrealized PnL and ``|quote_balance|`` its entry cost.
    equity
        The account's total equity (collateral plus all PnL), quote smallest units.
    maintenance
        The account's total maintenance requirement, quote smallest units.
    """

    account: str
    size: int
    quote_balance: int
    equity: int
    maintenance: int


class AdlPolicy(Enum):
    """How a bankrupt position is split among opposite positions."""

    PNL_LEVERAGE = "pnl_leverage"
    HYPERLIQUID_INDEX = "hyperliquid_index"
    PRO_RATA_PROFIT = "pro_rata_profit"
    RISK_AWARE = "risk_aware"
    DYDX_OFFSET = "dydx_offset"

    @property
    def source(self) -> str:
        """Where the rule comes from: the protocol's document, or ours."""
        return ADL_POLICY_SOURCES[self]

    @property
    def queued(self) -> bool:
        """Whether the policy fills a queue in rank order (else it splits pro rata)."""
        return self in (AdlPolicy.PNL_LEVERAGE, AdlPolicy.HYPERLIQUID_INDEX,
                        AdlPolicy.DYDX_OFFSET)


#: The source of each policy's ranking or split.
ADL_POLICY_SOURCES: dict[AdlPolicy, str] = {
    AdlPolicy.PNL_LEVERAGE: (
        "BitMEX / Binance ADL ranking: PnL% x effective leverage, PnL% / leverage when "
        "losing (BitMEX 'Auto-Deleveraging', Binance Futures FAQ 'What is ADL')"),
    AdlPolicy.HYPERLIQUID_INDEX: (
        "Hyperliquid docs, Trading > Auto-deleveraging: sorting index (mark_price / "
        "entry_price) * (notional_position / account_value), "
        "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging"),
    AdlPolicy.PRO_RATA_PROFIT: "marginengine: pro rata to unrealized profit (our rule)",
    AdlPolicy.RISK_AWARE: (
        "marginengine: pro rata to unrealized profit x effective leverage (our rule)"),
    AdlPolicy.DYDX_OFFSET: (
        "dYdX v4 OffsetSubaccountPerpetualPosition: offsetting subaccounts in stored order "
        "from a pseudo-random start, dydxprotocol/v4-chain@84d4664b "
        "protocol/x/clob/keeper/deleveraging.go"),
}

#: dYdX's ``DefaultMaxDeleveragingSubaccountsToIterate`` (protocol/x/clob/flags/flags.go).
DYDX_MAX_SUBACCOUNTS_TO_ITERATE = 500


def dydx_start_offset(block_time: int, count: int) -> int:
    """Return the index dYdX's deleveraging starts from among ``count`` subaccounts.

    dYdX seeds Go's ``math/rand`` with the previous block's Unix timestamp
    (``protocol/x/clob/keeper/random.go`` ``GetPseudoRand``) and takes ``Intn(count)``: a
    pseudo-random start that every validator computes alike. Here the start is the same kind
    of thing, a deterministic function of the engine's block (its clock, ``block_time``
    seconds): the first 8 bytes of SHA-256 of the time as a signed 8-byte big-endian
    integer, modulo ``count``. A function of the block, not a generator passed in, because a
    handler's outcome must follow from the state and the event alone (a replay of the log
    gives the same state hash, with nothing else to log); SHA-256, not Python's ``random``,
    because its value is fixed across Python versions. Go's sequence itself is not
    reproduced (it needs the Go runtime's seed table), so for one timestamp the start is not
    dYdX's; as in dYdX every start is (almost exactly) equally likely.

    Raises
    ------
    ValueError
        If ``count`` is not positive.
    """
    if count <= 0:
        raise ValueError(f"count must be positive (got {count})")
    digest = sha256(block_time.to_bytes(8, "big", signed=True)).digest()
    return int.from_bytes(digest[:8], "big") % count


def dydx_offset_order(accounts: Sequence[str], offset: int,
                      max_iterate: int = DYDX_MAX_SUBACCOUNTS_TO_ITERATE) -> list[str]:
    """Return the order dYdX's ``OffsetSubaccountPerpetualPosition`` visits ``accounts`` in.

    ``accounts`` are the subaccounts with a position opposite to the deleveraged one, in
    their stored order; the visit starts at ``accounts[offset]``, wraps around, and stops
    after ``min(len(accounts), max_iterate)`` of them (``index = (i + indexOffset) %
    numSubaccounts``). dYdX's table (``TestOffsetSubaccountPerpetualPosition``, "Can get
    multiple offsetting subaccounts") visits Dave_Num0 then Dave_Num1 from offset 0.
    """
    if max_iterate <= 0:
        raise ValueError(f"max_iterate must be positive (got {max_iterate})")
    count = len(accounts)
    if count and not 0 <= offset < count:
        raise ValueError(f"offset must be within 0..{count - 1} (got {offset})")
    return [accounts[(i + offset) % count] for i in range(min(count, max_iterate))]


def dydx_can_deleverage(net_collateral: int, final_settlement: bool = False
                        ) -> tuple[bool, bool]:
    """Return dYdX v4's ``CanDeleverageSubaccount``: ``(at_bankruptcy, at_oracle)``.

    ``protocol/x/clob/keeper/deleveraging.go``: a subaccount of negative net collateral is
    deleveraged at its bankruptcy price; one of non-negative net collateral only when the
    market is in final settlement, at the oracle price (its TNC stays, its TMMR falls);
    otherwise not at all. dYdX's table (``TestCanDeleverageSubaccount``): TNC 4,999 or 0 ->
    neither; -1 -> at bankruptcy (also in final settlement); 4,999 in final settlement ->
    at the oracle price. The engine has no final settlement: it deleverages at bankruptcy.
    """
    if net_collateral < 0:
        return True, False
    return False, final_settlement


def dydx_valid_insurance_fund_delta(balance: int, delta: int) -> bool:
    """Return dYdX v4's ``IsValidInsuranceFundDelta``: a delta of 0 or more always, a
    payment (``delta < 0``) only if the fund's ``balance`` covers it. dYdX's table
    (``TestIsValidInsuranceFundDelta``): 10,000 USDC paying 10,000 is valid, paying
    10,000.000001 is not; an empty fund may receive but not pay 1 quantum."""
    if balance < 0:
        raise ValueError(f"balance must not be negative (got {balance})")
    return delta >= 0 or balance + delta >= 0


@dataclass(frozen=True)
class AdlRank:
    """One candidate's place in an ADL ranking, with the components of its score.

    Attributes
    ----------
    account
        The candidate's account.
    pnl_pct
        Unrealized PnL at mark over ``|entry cost|`` (a fraction: 1/5 is 20%).
    leverage
        Effective leverage ``|notional at mark| / equity`` (equity clamped at 1 unit).
    price_ratio
        The price ratio in the position's favour: ``mark / entry`` for a long, ``entry /
        mark`` for a short (1 + PnL% for a long). Hyperliquid's index uses it.
    score
        The policy's ranking value (higher goes first), or its pro-rata weight.
    in_profit
        Whether the unrealized PnL at mark is positive.
    """

    account: str
    pnl_pct: Fraction
    leverage: Fraction
    price_ratio: Fraction
    score: Fraction
    in_profit: bool


@dataclass(frozen=True)
class AdlFill:
    """One candidate's part of an ADL.

    Attributes
    ----------
    account
        The candidate's account.
    size
        The amount of the candidate's position closed, base smallest units; same sign as the
        candidate's position (a short candidate closes a negative amount).
    price
        The fill price: the bankrupt position's bankruptcy price.
    haircut
        The profit given up versus closing at mark, quote smallest units, rounded up:
        ``size * (mark - price)`` in value. Negative if the bankruptcy price is better
        than mark for the candidate.
    """

    account: str
    size: int
    price: int
    haircut: int


def _scale(base_unit: int) -> int:
    """``base_unit * PRICE_UNIT``: a value ``size * price * quote_unit`` over this is quote."""
    scale: int = base_unit * PRICE_UNIT  # PRICE_UNIT is typed loosely (10**int)
    return scale


def _value_scaled(size: int, price: int, quote_unit: int) -> int:
    """``size * price`` in quote units, times ``base_unit * PRICE_UNIT`` (exact, signed)."""
    return size * price * quote_unit


def _upnl_scaled(c: AdlCandidate, mark_price: int, base_unit: int, quote_unit: int) -> int:
    """Unrealized PnL at mark, times ``base_unit * PRICE_UNIT`` (exact, signed)."""
    return c.quote_balance * _scale(base_unit) + _value_scaled(c.size, mark_price, quote_unit)


def adl_score(c: AdlCandidate, mark_price: int, base_unit: int, quote_unit: int) -> tuple[int, int]:
    """Return the candidate's ADL ranking as an exact rational ``(numerator, denominator)``.

    BitMEX and Binance rank by::

        PnL%      = unrealized PnL / |entry cost|
        leverage  = |notional at mark| / equity
        score     = PnL% * leverage   if PnL% >= 0
                  = PnL% / leverage   if PnL% <  0

    so every profitable position ranks above every losing one (scores >= 0 against < 0),
    and among losers the least levered loser ranks last. Degenerate inputs are clamped
    rather than rejected: an equity at or below 0 counts as 1 quote unit (the account
    is infinitely levered, so it ranks high among the profitable), a zero entry cost or
    notional counts as 1 unit.

    Returns
    -------
    tuple[int, int]
        ``(numerator, denominator)`` with ``denominator > 0``, reduced; compare two scores
        by cross-multiplication (or as :class:`fractions.Fraction`).
    """
    _check_units(base_unit, quote_unit)
    scale = _scale(base_unit)
    upnl = _upnl_scaled(c, mark_price, base_unit, quote_unit)  # / scale
    cost = max(abs(c.quote_balance), 1)
    value = max(abs(_value_scaled(c.size, mark_price, quote_unit)), 1)  # / scale
    equity = max(c.equity, 1)
    if upnl >= 0:
        # (upnl / scale / cost) * (value / scale / equity)
        score = Fraction(upnl * value, scale * scale * cost * equity)
    else:
        # (upnl / scale / cost) / (value / scale / equity)
        score = Fraction(upnl * equity, cost * value)
    return score.numerator, score.denominator


def _components(
    c: AdlCandidate, mark_price: int, base_unit: int, quote_unit: int
) -> tuple[Fraction, Fraction, Fraction, bool]:
    """``(PnL%, leverage, price ratio in the position's favour, in profit)``, exact, with
    the clamps of :func:`adl_score` (cost, notional and equity at least 1 unit)."""
    scale = _scale(base_unit)
    upnl = _upnl_scaled(c, mark_price, base_unit, quote_unit)  # / scale
    cost = max(abs(c.quote_balance), 1)
    value = max(abs(_value_scaled(c.size, mark_price, quote_unit)), 1)  # / scale
    equity = max(c.equity, 1)
    pnl_pct = Fraction(upnl, scale * cost)
    leverage = Fraction(value, scale * equity)
    # entry price = |cost| / |size|, mark = notional / |size|: mark / entry = notional / cost.
    mark_over_entry = Fraction(value, scale * cost)
    ratio = mark_over_entry if c.size > 0 else 1 / mark_over_entry
    return pnl_pct, leverage, ratio, upnl > 0


def hyperliquid_adl_index(
    c: AdlCandidate, mark_price: int, base_unit: int, quote_unit: int
) -> Fraction:
    """Return Hyperliquid's ADL sorting index, exact.

    Hyperliquid docs (Trading > Auto-deleveraging): "the users on the opposite side of the
    position are ranked by unrealized pnl and leverage used ... The specific sorting index
    to determine the affected users in profit is ``(mark_price / entry_price) *
    (notional_position / account_value)``". Here ``entry_price = |quote_balance| / |size|``,
    ``notional_position = |size| x mark`` and ``account_value`` is the candidate's equity
    (clamped at 1 unit).

    The page writes ``mark_price / entry_price``, which is the profit factor of a long; for a
    short it would fall as the profit grows, against the same page's "ranked by unrealized
    pnl", so a short uses ``entry_price / mark_price`` (the ratio in its favour). This is our
    reading; Hyperliquid publishes no code for it.
    """
    _check_units(base_unit, quote_unit)
    _, leverage, ratio, _ = _components(c, mark_price, base_unit, quote_unit)
    return ratio * leverage


def rank_adl(
    candidates: Sequence[AdlCandidate],
    mark_price: int,
    policy: AdlPolicy,
    base_unit: int,
    quote_unit: int,
    *,
    offset: int = 0,
) -> list[AdlRank]:
    """Return the candidates' ranking under ``policy``, first to be deleveraged first.

    Queue policies: ``PNL_LEVERAGE`` by :func:`adl_score`; ``HYPERLIQUID_INDEX`` candidates
    in profit first, then the others, each by :func:`hyperliquid_adl_index`;
    ``DYDX_OFFSET`` in :func:`dydx_offset_order` from ``offset`` over the candidates by
    account id (the score is the number of candidates after it in the visit: no profit or
    leverage enters; a candidate beyond dYdX's 500 is left out). Pro-rata policies: the
    score is the candidate's weight (0 for one not in profit, which shares only what
    profitable exposure cannot cover). Ties by account id.
    """
    _check_units(base_unit, quote_unit)
    out = []
    if policy is AdlPolicy.DYDX_OFFSET:
        by_account = {c.account: c for c in candidates}
        visit = dydx_offset_order(sorted(by_account), offset)
        for i, account in enumerate(visit):
            pnl_pct, leverage, ratio, in_profit = _components(
                by_account[account], mark_price, base_unit, quote_unit)
            out.append(AdlRank(account, pnl_pct, leverage, ratio,
                               Fraction(len(visit) - 1 - i), in_profit))
        return out
    for c in candidates:
        pnl_pct, leverage, ratio, in_profit = _components(c, mark_price, base_unit, quote_unit)
        if policy is AdlPolicy.PNL_LEVERAGE:
            score = Fraction(*adl_score(c, mark_price, base_unit, quote_unit))
        elif policy is AdlPolicy.HYPERLIQUID_INDEX:
            score = ratio * leverage
        elif not in_profit:
            score = Fraction(0)
        elif policy is AdlPolicy.PRO_RATA_PROFIT:
            score = pnl_pct * max(abs(c.quote_balance), 1)  # the unrealized PnL, quote units
        else:
            score = pnl_pct * max(abs(c.quote_balance), 1) * leverage
        out.append(AdlRank(c.account, pnl_pct, leverage, ratio, score, in_profit))
    group_first = policy is AdlPolicy.HYPERLIQUID_INDEX
    out.sort(key=lambda r: (group_first and not r.in_profit, -r.score, r.account))
    return out


def _check_units(base_unit: int, quote_unit: int) -> None:
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    if quote_unit <= 0:
        raise ValueError(f"quote_unit must be positive (got {quote_unit})")


def _split(
    total: int, accounts: Sequence[str], weights: Sequence[Fraction], caps: Sequence[int]
) -> list[int]:
    """Split ``total`` units in proportion to ``weights``, none above its cap, exactly.

    Water-filling: a candidate whose proportional share reaches its cap gets the cap and
    leaves, and the rest is re-split among the others, until no share exceeds its cap.
    The remaining shares are floored; the leftover units (fewer than the number of
    candidates) go one each to the largest fractional remainders, ties by account id.
    A share below its cap is below it by more than its fraction, so the extra unit never
    breaks a cap. Requires ``total <= sum(caps of positive weights)``.
    """
    count = len(weights)
    out = [0] * count
    common = lcm(*(w.denominator for w in weights)) if weights else 1
    ints = [w.numerator * (common // w.denominator) for w in weights]
    active = [i for i in range(count) if ints[i] > 0 and caps[i] > 0]
    remaining = total
    while active:
        weight_sum = sum(ints[i] for i in active)
        capped = [i for i in active if remaining * ints[i] >= caps[i] * weight_sum]
        if not capped:
            break
        for i in capped:
            out[i] = caps[i]
            remaining -= caps[i]
        active = [i for i in active if i not in capped]
    if not active:
        if remaining:
            raise RuntimeError("the split ran out of candidates: total exceeds their caps")
        return out
    weight_sum = sum(ints[i] for i in active)
    remainders: list[tuple[int, str, int]] = []
    for i in active:
        share, rest = divmod(remaining * ints[i], weight_sum)
        out[i] = share
        remainders.append((-rest, accounts[i], i))
    leftover = remaining - sum(out[i] for i in active)
    for _, _, i in sorted(remainders)[:leftover]:
        out[i] += 1
    return out


def allocate_adl(
    size_to_close: int,
    bankruptcy_price: int,
    mark_price: int,
    candidates: Sequence[AdlCandidate],
    policy: AdlPolicy,
    base_unit: int,
    quote_unit: int,
    *,
    step: int = 1,
    offset: int = 0,
) -> list[AdlFill]:
    """Split the closing of a bankrupt position among opposite positions.

    Parameters
    ----------
    size_to_close
        The signed size of the bankrupt position to close (same sign as that position);
        ``|size_to_close|`` of opposite exposure is closed. 0 closes nothing.
    bankruptcy_price
        The bankrupt position's bankruptcy price: every fill is at this price.
    mark_price
        The mark price (ranking, weights and haircuts).
    candidates
        Positions on the opposite side (``sign(size) == -sign(size_to_close)``), one per
        account.
    policy
        See :class:`AdlPolicy`.
    base_unit, quote_unit
        ``10**decimals`` of the base and quote assets.
    step
        The market's size increment: ``size_to_close`` and every candidate size must be
        multiples of it; splits are made in whole steps.
    offset
        ``DYDX_OFFSET`` only: where the visit starts among the candidates by account id
        (:func:`dydx_start_offset` of the block in the engine).

    Returns
    -------
    list[AdlFill]
        Non-zero fills; the sum of their ``|size|`` is ``|size_to_close|`` exactly (for
        ``DYDX_OFFSET``, which visits at most 500 candidates, it may be less). In queue
        order for the queue policies, by account id for the pro-rata policies.

    Raises
    ------
    ValueError
        If a candidate is on the same side as the bankrupt position or flat, an account
        appears twice, sizes are not multiples of ``step``, or the candidates' total
        opposite exposure is smaller than ``|size_to_close|`` (both numbers are named).
    """
    _check_units(base_unit, quote_unit)
    if step <= 0:
        raise ValueError(f"step must be positive (got {step})")
    if bankruptcy_price < 0 or mark_price < 0:
        raise ValueError(
            f"prices must be non-negative (bankruptcy {bankruptcy_price}, mark {mark_price})"
        )
    if size_to_close % step:
        raise ValueError(f"size_to_close {size_to_close} is not a multiple of step {step}")
    if size_to_close == 0:
        return []
    seen: set[str] = set()
    for c in candidates:
        if c.account in seen:
            raise ValueError(f"candidates: account {c.account!r} appears more than once")
        seen.add(c.account)
        if c.size == 0 or (c.size > 0) == (size_to_close > 0):
            raise ValueError(
                f"{field_path('candidates', c.account, 'size')}: {c.size} is not on the opposite "
                f"side of the bankrupt position ({size_to_close})"
            )
        if c.size % step:
            raise ValueError(
                f"{field_path('candidates', c.account, 'size')}: {c.size} is not a multiple of "
                f"step {step}"
            )
    need = abs(size_to_close)
    available = sum(abs(c.size) for c in candidates)
    if available < need:
        raise ValueError(
            f"opposite exposure {available} is smaller than the size to close {need}"
        )

    if policy.queued:
        closed = _queue(need, mark_price, candidates, policy, base_unit, quote_unit, offset)
    else:
        closed = _pro_rata(need, step, mark_price, candidates, policy, base_unit, quote_unit)
    return [
        _fill(c, amount, bankruptcy_price, mark_price, base_unit, quote_unit)
        for c, amount in closed
        if amount
    ]


def _queue(
    need: int,
    mark_price: int,
    candidates: Sequence[AdlCandidate],
    policy: AdlPolicy,
    base_unit: int,
    quote_unit: int,
    offset: int,
) -> list[tuple[AdlCandidate, int]]:
    """Fill candidates fully in the order of :func:`rank_adl`."""
    by_account = {c.account: c for c in candidates}
    out: list[tuple[AdlCandidate, int]] = []
    for rank in rank_adl(candidates, mark_price, policy, base_unit, quote_unit,
                         offset=offset):
        c = by_account[rank.account]
        if need == 0:
            break
        take = min(abs(c.size), need)
        out.append((c, take))
        need -= take
    return out


def _pro_rata(
    need: int,
    step: int,
    mark_price: int,
    candidates: Sequence[AdlCandidate],
    policy: AdlPolicy,
    base_unit: int,
    quote_unit: int,
) -> list[tuple[AdlCandidate, int]]:
    """Profit-weighted (or profit x leverage) split, then by size if profit runs out."""
    ordered = sorted(candidates, key=lambda c: c.account)
    upnl = [_upnl_scaled(c, mark_price, base_unit, quote_unit) for c in ordered]
    winners = [i for i, u in enumerate(upnl) if u > 0]
    others = [i for i, u in enumerate(upnl) if u <= 0]
    steps = [abs(c.size) // step for c in ordered]
    amount = [0] * len(ordered)
    winner_steps = sum(steps[i] for i in winners)
    need_steps = need // step
    if need_steps <= winner_steps:
        weights = [_weight(ordered[i], upnl[i], mark_price, policy, quote_unit) for i in winners]
        split = _split(
            need_steps, [ordered[i].account for i in winners], weights, [steps[i] for i in winners]
        )
        for i, s in zip(winners, split, strict=True):
            amount[i] = s
    else:
        for i in winners:
            amount[i] = steps[i]
        split = _split(
            need_steps - winner_steps,
            [ordered[i].account for i in others],
            [Fraction(steps[i]) for i in others],
            [steps[i] for i in others],
        )
        for i, s in zip(others, split, strict=True):
            amount[i] = s
    return [(c, amount[i] * step) for i, c in enumerate(ordered)]


def _weight(
    c: AdlCandidate, upnl_scaled: int, mark_price: int, policy: AdlPolicy, quote_unit: int
) -> Fraction:
    """A profitable candidate's weight (common factors dropped: only ratios matter)."""
    if policy is AdlPolicy.PRO_RATA_PROFIT:
        return Fraction(upnl_scaled)
    # RISK_AWARE: upnl * |notional at mark| / equity (equity and notional clamped at 1
    # unit, as in adl_score, so a weight is never 0 for a profitable candidate).
    value = max(abs(_value_scaled(c.size, mark_price, quote_unit)), 1)
    return Fraction(upnl_scaled * value, max(c.equity, 1))


def _fill(
    c: AdlCandidate,
    amount: int,
    bankruptcy_price: int,
    mark_price: int,
    base_unit: int,
    quote_unit: int,
) -> AdlFill:
    signed = amount if c.size > 0 else -amount
    # Profit given up versus mark: signed * (mark - price), rounded up (toward +inf).
    given_up = signed * (mark_price - bankruptcy_price) * quote_unit
    haircut = -(-given_up // _scale(base_unit))
    return AdlFill(account=c.account, size=signed, price=bankruptcy_price, haircut=haircut)
