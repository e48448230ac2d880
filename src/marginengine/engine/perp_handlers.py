"""The engine's perp handlers: quote deposits, trades, funding, liquidation and the
backstop waterfall (insurance fund, then auto-deleveraging, then socialized loss).

Functions take the engine and the event and raise :class:`Rejected` to refuse; the engine
wires them like its lending handlers, inside the same transaction, log and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marginengine.config.perp import PPM, PerpMarketConfig
from marginengine.engine.events import (
    DepositQuote,
    FundInsurance,
    LiquidatePerp,
    Trade,
    TransferQuote,
    WithdrawQuote,
)
from marginengine.engine.rejected import Rejected, fmt_usd
from marginengine.fixedpoint import Rounding, div, format_units
from marginengine.ledger import LedgerError
from marginengine.ledger.perp import quote_value
from marginengine.liquidation.adl import AdlCandidate, AdlPolicy, allocate_adl, rank_adl
from marginengine.liquidation.perp_prices import bankruptcy_price, fillable_price
from marginengine.margin import MarginKind
from marginengine.margin.funding import funding_step

if TYPE_CHECKING:
    from marginengine.engine.engine import Engine


def _perp(engine: Engine, market: str) -> PerpMarketConfig:
    if market not in engine.config.perps:
        raise Rejected(f"market: unknown perp market {market!r}")
    return engine.config.perps[market]


def _quote_unit(engine: Engine, perp: PerpMarketConfig) -> int:
    return engine.config.markets[perp.quote].unit


def _units(perp: PerpMarketConfig, size: int) -> str:
    return format_units(size, perp.base_decimals)


def _same_owner(a: str, b: str) -> bool:
    return b.startswith(a + "/") or a.startswith(b + "/")


def check_initial(engine: Engine, account_id: str, who: str = "") -> None:
    """Refuse unless the account meets initial margin (bucket: lending and perps)."""
    state = engine.bucket(account_id, initial=True).margin(MarginKind.INITIAL)
    if state.value < state.requirement:
        name = f"{who} {account_id}" if who else account_id
        raise Rejected(
            f"initial margin: {name} would need {fmt_usd(state.requirement)} and would have "
            f"{fmt_usd(state.value)}"
        )


# ---------------------------------------------------------------------- quote balances
def deposit_quote(engine: Engine, e: DepositQuote) -> dict[str, Any]:
    engine._account_id(e.account)
    engine._positive(e.amount)
    engine.ledger.deposit_quote(e.account, e.amount)
    return {"perp_quote": engine.ledger.perp_quote_of(e.account)}


def withdraw_quote(engine: Engine, e: WithdrawQuote) -> dict[str, Any]:
    engine._existing(e.account)
    engine._positive(e.amount)
    settle_all_funding(engine, e.account)
    try:
        engine.ledger.withdraw_quote(e.account, e.amount)
    except LedgerError as exc:
        raise Rejected(str(exc)) from None
    if engine.has_risk(e.account):
        engine._require_prices(engine.priced_assets(e.account))
        check_initial(engine, e.account)
    return {"perp_quote": engine.ledger.perp_quote_of(e.account)}


def transfer_quote(engine: Engine, e: TransferQuote) -> dict[str, Any]:
    engine._existing(e.source, "source")
    engine._account_id(e.target, "target")
    engine._positive(e.amount)
    if not _same_owner(e.source, e.target):
        raise Rejected(f"target: {e.target!r} is not an isolated sub-account of {e.source!r} "
                       "(or its owner); sub-accounts are named owner/label")
    settle_all_funding(engine, e.source)
    try:
        engine.ledger.move_quote(e.source, e.target, e.amount)
    except LedgerError as exc:
        raise Rejected(str(exc)) from None
    if engine.has_risk(e.source):
        engine._require_prices(engine.priced_assets(e.source))
        check_initial(engine, e.source)
    return {}


def fund_insurance(engine: Engine, e: FundInsurance) -> dict[str, Any]:
    engine._positive(e.amount)
    market = e.market or None
    if market is not None:
        perp = _perp(engine, market)
        if perp.insurance_fund != "market":
            raise Rejected(f"market: {market} uses the shared insurance fund")
    engine.ledger.fund_insurance(e.amount, market)
    return {"insurance": engine.ledger.insurance_of(market)}


# ---------------------------------------------------------------------- funding
def settle_all_funding(engine: Engine, account_id: str) -> int:
    """Settle every position's funding of an account; return what it paid in total."""
    account = engine.ledger.accounts.get(account_id)
    paid = 0
    for market in sorted(account.perps if account else ()):
        paid += engine.ledger.settle_funding(account_id, market,
                                             engine.config.perps[market].base_unit)
    return paid


def accrue_funding(engine: Engine, previous_time: int) -> list[dict[str, Any]]:
    """Apply the funding of every interval boundary crossed since ``previous_time``.

    The rate and the index move are the market's formula's (:func:`~marginengine.margin.
    funding.funding_step`: Binance, Hyperliquid or dYdX v4).
    """
    applied = []
    now = engine.ledger.time
    for market, perp in sorted(engine.config.perps.items()):
        interval = perp.funding.interval
        crossed = now // interval - previous_time // interval
        if crossed <= 0 or market not in engine.prices:
            continue
        step = funding_step(perp, engine.mark(market), engine.prices[market],
                            _quote_unit(engine, perp))
        if step.index_delta == 0:
            continue
        engine.ledger.accrue_funding(market, step.index_delta * crossed, now)
        entry: dict[str, Any] = {"market": market, "rate": str(step.rate),
                                 "intervals": crossed}
        if step.rate_8h_ppm is not None:
            entry["rate_8h_ppm"] = step.rate_8h_ppm
        applied.append(entry)
    return applied


# ---------------------------------------------------------------------- trades
def _risk_increasing(old: int, new: int) -> bool:
    return abs(new) > abs(old) or (old != 0 and new != 0 and (old > 0) != (new > 0))


def trade(engine: Engine, e: Trade) -> dict[str, Any]:
    engine._account_id(e.buyer, "buyer")
    engine._account_id(e.seller, "seller")
    perp = _perp(engine, e.market)
    engine._positive(e.size, "size")
    engine._positive(e.price, "price")
    if e.buyer == e.seller:
        raise Rejected("an account cannot trade with itself")
    step = perp.step_units
    if e.size % step:
        raise Rejected(f"size: {_units(perp, e.size)} is not a multiple of the step "
                       f"size {perp.step_size}")
    ledger = engine.ledger
    sides = ((e.buyer, e.size), (e.seller, -e.size))
    increasing = [(a, s) for a, s in sides
                  if _risk_increasing(ledger.perp_size(a, e.market),
                                      ledger.perp_size(a, e.market) + s)]
    for account_id, _ in increasing:
        engine._require_prices([e.market, *engine.priced_assets(account_id)])
    for account_id, _ in sides:
        settle_all_funding(engine, account_id)
    quote_unit = _quote_unit(engine, perp)
    for account_id, size in sides:
        ledger.fill(account_id, e.market, size, e.price, perp.base_unit, quote_unit)
    state = ledger.clearing.markets[e.market]
    cap = perp.oi_cap_units
    if cap and state.open_interest > cap and any(increasing):
        raise Rejected(f"open interest would reach {_units(perp, state.open_interest)} "
                       f"{e.market}, above the cap {perp.oi_cap}")
    index = engine.prices.get(e.market, e.price)
    basis = div(abs(e.price - index) * PPM, index, Rounding.DOWN) * (1 if e.price >= index
                                                                     else -1)
    alpha = perp.ppm("mark_basis_alpha")
    ema = state.basis_ema_ppm + (basis - state.basis_ema_ppm) * alpha // PPM
    ledger.record_trade(e.market, e.price, ema)
    for account_id, _ in increasing:
        check_initial(engine, account_id)
    return {"notional": quote_value(e.size, e.price, perp.base_unit, quote_unit, Rounding.UP)}


# ---------------------------------------------------------------------- liquidation
def _close_size(perp: PerpMarketConfig, size: int, notional: int, quote_unit: int,
                requested: int) -> int:
    """How much of ``|size|`` one liquidation closes: a fraction of large positions."""
    close = abs(size)
    threshold = perp.quote_amounts(quote_unit)["partial_above"]
    if threshold and notional > threshold and perp.partial_fraction < 1:
        step = perp.step_units
        close = max(step, abs(size) * perp.ppm("partial_fraction") // PPM // step * step)
        close = min(close, abs(size))
    if requested:
        close = min(close, requested)
    return close


@dataclass(frozen=True)
class PerpLiquidationPlan:
    """How one perp liquidation would go now.

    Attributes
    ----------
    close
        Base smallest units to close (a fraction of large positions; all when underwater).
    price
        The fill price: dYdX's fillable price, or the mark less the takeover discount.
    bankruptcy_price
        Where the bucket's equity is used up.
    underwater
        Whether the fill is beyond the bankruptcy price (the waterfall runs).
    """

    market: str
    size: int
    close: int
    mark: int
    price: int
    bankruptcy_price: int
    underwater: bool


def plan_perp_liquidation(engine: Engine, account_id: str, market: str,
                          requested: int = 0) -> PerpLiquidationPlan:
    """Plan the liquidation of ``account_id``'s ``market`` position (funding settled)."""
    perp = _perp(engine, market)
    quote_unit = _quote_unit(engine, perp)
    risk = engine.bucket(account_id)
    state = risk.margin(MarginKind.MAINTENANCE)
    position = next(p for p in risk.positions if p.market == market)
    size, mark = position.size, position.mark
    # Equity without this position's value: bankruptcy is where the rest is used up.
    rest = engine.equity_quote(risk) - position.value
    bankrupt_at = bankruptcy_price(size, rest, perp.base_unit, quote_unit)
    if perp.liquidation == "fillable":
        pmmf = div(position.maintenance * PPM, max(position.notional, 1), Rounding.UP)
        tmmr = div(max(state.requirement, 1) * quote_unit, risk.quote_price, Rounding.UP)
        price = fillable_price(mark, size, pmmf, perp.ppm("spread_to_mmr"),
                               engine.equity_quote(risk), tmmr)
    else:
        discount = perp.ppm("takeover_discount")
        price = (mark * (PPM - discount) // PPM if size > 0
                 else div(mark * (PPM + discount), PPM, Rounding.UP))
    underwater = (price < bankrupt_at) if size > 0 else (price > bankrupt_at)
    close = abs(size) if underwater else _close_size(perp, size, position.notional,
                                                     quote_unit, requested)
    return PerpLiquidationPlan(market, size, close, mark, price, bankrupt_at, underwater)


def liquidate_perp(engine: Engine, e: LiquidatePerp) -> dict[str, Any]:
    engine._account_id(e.liquidator, "liquidator")
    engine._existing(e.account)
    perp = _perp(engine, e.market)
    if e.size < 0:
        raise Rejected(f"size: must not be negative (got {e.size})")
    if e.liquidator == e.account:
        raise Rejected("an account cannot liquidate itself")
    ledger = engine.ledger
    size = ledger.perp_size(e.account, e.market)
    if size == 0:
        raise Rejected(f"{e.account} has no position in {e.market}")
    engine._require_prices([e.market, *engine.priced_assets(e.account)], for_liquidation=True)
    settle_all_funding(engine, e.account)
    risk = engine.bucket(e.account)
    state = risk.margin(MarginKind.MAINTENANCE)
    if state.value >= state.requirement:
        raise Rejected(f"{e.account} is not liquidatable: margin {fmt_usd(state.value)} covers "
                       f"the maintenance requirement {fmt_usd(state.requirement)}")
    quote = plan_perp_liquidation(engine, e.account, e.market, e.size)
    quote_unit = _quote_unit(engine, perp)
    mark, bankrupt_at, price = quote.mark, quote.bankruptcy_price, quote.price
    underwater, close = quote.underwater, quote.close
    signed_close = -close if size > 0 else close
    fund_market = e.market if perp.insurance_fund == "market" else None
    details: dict[str, Any] = {
        "closed": close, "mark": mark, "bankruptcy_price": bankrupt_at, "price": price,
        "insurance_paid": 0, "adl": [], "socialized": 0, "deficit": 0, "fee": 0,
    }
    notional = abs(quote_value(close, price, perp.base_unit, quote_unit, Rounding.DOWN))
    if underwater:
        loss = abs(quote_value(close, abs(bankrupt_at - price), perp.base_unit, quote_unit,
                               Rounding.UP))
        if ledger.insurance_of(fund_market) >= loss:
            _take_over(engine, e, perp, signed_close, price)
            details["insurance_paid"] = _cover(engine, e.account, fund_market)
        else:
            details["adl"] = _deleverage(engine, e.account, e.market, perp, size, bankrupt_at,
                                         mark)
            price = bankrupt_at
            details["price"] = price
            notional = abs(quote_value(close, price, perp.base_unit, quote_unit, Rounding.DOWN))
            ledger.add_volume(e.market, adl=notional)
    else:
        _take_over(engine, e, perp, signed_close, price)
        after = engine.equity_quote(engine.bucket(e.account))
        fee = min(div(notional * perp.ppm("liquidation_fee"), PPM, Rounding.UP), max(after, 0))
        if fee:
            ledger.fee_to_insurance(e.account, fee, fund_market)
        details["fee"] = fee
    ledger.add_volume(e.market, liquidated=notional)
    # Whatever negative equity is left (rounding, or a bucket whose other collateral is
    # gone) goes down the rest of the waterfall.
    details["insurance_paid"] += _cover(engine, e.account, fund_market)
    details["socialized"], details["deficit"] = _socialize(engine, e.account)
    _settle_from_supply(engine, e.account)
    return details


def _take_over(engine: Engine, e: LiquidatePerp, perp: PerpMarketConfig, signed_close: int,
               price: int) -> None:
    """The liquidator takes the closed size at ``price`` and must hold its margin."""
    ledger = engine.ledger
    quote_unit = _quote_unit(engine, perp)
    settle_all_funding(engine, e.liquidator)
    ledger.fill(e.account, e.market, signed_close, price, perp.base_unit, quote_unit)
    ledger.fill(e.liquidator, e.market, -signed_close, price, perp.base_unit, quote_unit)
    check_initial(engine, e.liquidator, "liquidator")


def _cover(engine: Engine, account_id: str, fund_market: str | None) -> int:
    """The insurance fund covers as much of the account's negative perp equity as it can."""
    risk = engine.bucket(account_id)
    if risk.positions:
        return 0
    short = -engine.equity_quote(risk)
    if short <= 0:
        return 0
    paid = min(short, engine.ledger.insurance_of(fund_market), max(-risk.perp_quote, 0))
    if paid:
        engine.ledger.pay_from_insurance(account_id, paid, fund_market)
    return paid


def _deleverage(engine: Engine, account_id: str, market: str, perp: PerpMarketConfig,
                size: int, price: int, mark: int) -> list[dict[str, Any]]:
    """Close the bankrupt position at its bankruptcy price against opposite positions."""
    ledger = engine.ledger
    quote_unit = _quote_unit(engine, perp)
    candidates = []
    for other in sorted(ledger.accounts):
        other_size = ledger.perp_size(other, market)
        if other == account_id or other_size == 0 or (other_size > 0) == (size > 0):
            continue
        settle_all_funding(engine, other)
        risk = engine.bucket(other)
        pos = ledger.accounts[other].perps[market]
        candidates.append(AdlCandidate(
            other, other_size, pos.cost, engine.equity_quote(risk),
            sum(p.maintenance for p in risk.positions)))
    exposure = sum(abs(c.size) for c in candidates)
    if exposure < abs(size):
        raise Rejected(
            f"auto-deleveraging needs {_units(perp, abs(size))} of opposite positions "
            f"in {market}, only {_units(perp, exposure)} exist"
        )
    policy = AdlPolicy(perp.adl_policy)
    fills = allocate_adl(size, price, mark, candidates, policy, perp.base_unit, quote_unit,
                         step=perp.step_units)
    # The ranking's components go into the outcome, so the log says why each was chosen.
    ranks = {r.account: r for r in rank_adl(candidates, mark, policy, perp.base_unit,
                                            quote_unit)}
    out = []
    for f in fills:
        ledger.fill(f.account, market, -f.size, price, perp.base_unit, quote_unit)
        ledger.fill(account_id, market, f.size, price, perp.base_unit, quote_unit)
        rank = ranks[f.account]
        out.append({"account": f.account, "size": f.size, "haircut": f.haircut,
                    "policy": policy.value, "score": str(rank.score),
                    "pnl_pct": str(rank.pnl_pct), "leverage": str(rank.leverage)})
    return out


def _socialize(engine: Engine, account_id: str) -> tuple[int, int]:
    """Spread a bankrupt account's remaining negative perp balance over the positive perp
    balances of the others, pro rata (largest remainder); record what is left as deficit."""
    ledger = engine.ledger
    risk = engine.bucket(account_id)
    if risk.positions:
        return 0, 0
    short = min(-engine.equity_quote(risk), -risk.perp_quote)
    if short <= 0:
        return 0, 0
    holders = {a: acc.perp_quote for a, acc in sorted(ledger.accounts.items())
               if a != account_id and acc.perp_quote > 0}
    total = sum(holders.values())
    take = min(short, total)
    shares: dict[str, int] = {}
    if take:
        exact = {a: q * take for a, q in holders.items()}
        shares = {a: v // total for a, v in exact.items()}
        left = take - sum(shares.values())
        for a in sorted(exact, key=lambda a: (-(exact[a] % total), a))[:left]:
            shares[a] += 1
        ledger.socialize(account_id, {a: s for a, s in shares.items() if s})
    deficit = short - take
    if deficit:
        ledger.write_off_perp(account_id, deficit)
    return take, deficit


def _settle_from_supply(engine: Engine, account_id: str) -> None:
    """A negative perp balance is paid from the account's supplied quote asset, if any."""
    ledger = engine.ledger
    owed = -ledger.perp_quote_of(account_id)
    asset = engine.perp_model.quote_asset
    if owed <= 0 or not asset:
        return
    available = min(ledger.supply_of(account_id, asset), ledger.reserves[asset].cash)
    amount = min(owed, available)
    if amount > 0:
        ledger.quote_from_supply(account_id, asset, amount)

