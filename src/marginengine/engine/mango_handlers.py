"""The Mango v4 handlers: token deposits and withdrawals (borrows), perp fills, stable
prices, token-with-token liquidation, token bankruptcy, perp base and positive-pnl
liquidation.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the group's book (``state.family``), computes the account's init health before and
after the action with :mod:`marginengine.margin.mango` (through
:mod:`marginengine.engine.family_state`, which builds Mango's ``TokenInfo`` and
``PerpInfo``) and refuses as ``MangoAccount::check_health_post`` does
(``HealthMustBePositiveOrIncrease``); ``token_withdraw`` without ``allow_borrow`` beyond the
position is ``SomeError`` (programs/mango-v4/src/instructions/token_withdraw.rs).
``liq_token_with_token`` follows programs/mango-v4/src/instructions/token_liq_with_token.rs,
``token_liq_bankruptcy`` programs/mango-v4/src/instructions/token_liq_bankruptcy.rs and
``perp_liq_base_or_positive_pnl`` and ``perp_liq_negative_pnl_or_bankruptcy`` the
instructions of those names (programs/mango-v4/src/instructions/), through the pure rules
of :mod:`marginengine.liquidation.mango`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.decisions import Code, Refusal
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    MangoDeposit,
    MangoLiqTokenWithToken,
    MangoPerpLiqBaseOrPositivePnl,
    MangoPerpLiqNegativePnlOrBankruptcy,
    MangoPerpOrders,
    MangoPerpSettlePnl,
    MangoPerpTrade,
    MangoPerpUpdateFunding,
    MangoSetStablePrice,
    MangoTokenLiqBankruptcy,
    MangoWithdraw,
)
from marginengine.engine.family_state import (
    MANGO_OUTSIDE,
    MangoAccount,
    MangoBook,
    MangoPerpPosition,
    mango_bankruptcy_plan,
    mango_funding_params,
    mango_fx_price,
    mango_health,
    mango_infos,
    mango_liq_plan,
    mango_perp_bankruptcy_plan,
    mango_perp_liq_plan,
    mango_phase2_refusal,
    mango_settle_funding,
    mango_settle_params,
    mango_with_funding_dust,
)
from marginengine.liquidation import mango as liq
from marginengine.margin import mango as rules
from marginengine.margin import mango_perp

#: Mango's instruction amounts: ``token_deposit`` / ``token_withdraw`` take a ``u64``
#: amount, a perp fill an ``i64`` of base lots and of quote native units
#: (programs/mango-v4/src/instructions/token_deposit.rs, token_withdraw.rs).
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1


def _bounded(ctx: HandlerContext, value: int, field: str, low: int, high: int,
             kind: str) -> None:
    """Refuse ``value`` outside Mango's integer type (``kind``) naming ``field``; beyond it
    the program cannot take the instruction (and the health overflows I80F48)."""
    if not low <= value <= high:
        digits = len(str(abs(value)))
        got = f"{value:,}" if digits <= 30 else f"a {digits}-digit number"
        ctx.refuse(Code.INVALID_AMOUNT, f"{field}: must fit Mango's {kind} (at most "
                   f"{high:,} in absolute value, got {got})", field=field, value=value)


def _init_health(ctx: HandlerContext, book: MangoBook, account: str) -> int:
    return mango_health(ctx.config, book, ctx.prices, ctx.stable_prices(), account,
                        rules.HealthType.INIT, now=ctx.time)


def _assets_of(ctx: HandlerContext, book: MangoBook, account: str) -> list[str]:
    cfg = ctx.config.mango
    assert cfg is not None
    held = book.account(account)
    return sorted({*(t for t, b in held.tokens.items() if b), *held.perps,
                   *(cfg.perps[m].settle for m in held.perps)})


def _checked(ctx: HandlerContext, before: MangoBook, after: MangoBook,
             account: str) -> dict[str, Any]:
    """``check_health_post`` on ``account`` from ``before`` to ``after`` (set if allowed)."""
    ctx.require_prices(_assets_of(ctx, after, account) + _assets_of(ctx, before, account))
    pre, post = _init_health(ctx, before, account), _init_health(ctx, after, account)
    refusal = rules.check_health_post(pre, post)
    if refusal is not None:
        ctx.refuse_with(refusal)
    ctx.set_family(after)
    return {"init_health": post}


def _token(ctx: HandlerContext, token: object, field: str = "token") -> str:
    cfg = ctx.config.mango
    assert cfg is not None
    if not isinstance(token, str) or token not in cfg.tokens:
        ctx.refuse(Code.UNKNOWN_ASSET, f"{field}: {token!r} is not a bank of the group "
                   f"(tokens: {', '.join(sorted(cfg.tokens))})", field=field, asset=str(token))
    return token


def deposit(ctx: HandlerContext, e: MangoDeposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    token = _token(ctx, e.token)
    if e.amount > 0:    # Mango's u64 first: it says more than the generic uint256 bound
        _bounded(ctx, e.amount, "amount", 0, U64_MAX, "u64")
    ctx.positive(e.amount)
    held = book.account(e.account)
    tokens = dict(held.tokens)
    tokens[token] = tokens.get(token, 0) + e.amount
    ctx.set_family(book.with_account(e.account, replace(held, tokens=tokens)))
    return {"position": tokens[token]}


def withdraw(ctx: HandlerContext, e: MangoWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    token = _token(ctx, e.token)
    if e.amount > 0:    # Mango's u64 first: it says more than the generic uint256 bound
        _bounded(ctx, e.amount, "amount", 0, U64_MAX, "u64")
    ctx.positive(e.amount)
    held = book.account(e.account)
    position = held.tokens.get(token, 0)
    if not e.allow_borrow and e.amount > position:
        ctx.refuse(Code.MANGO_SOME_ERROR, f"withdrawing {e.amount} of a {position} position "
                   "is a borrow and allow_borrow is false", amount=e.amount, position=position)
    tokens = dict(held.tokens)
    tokens[token] = position - e.amount
    details = _checked(ctx, book, book.with_account(e.account, replace(held, tokens=tokens)),
                       e.account)
    return {"position": tokens[token], **details}


def _perp(ctx: HandlerContext, market: str) -> str:
    cfg = ctx.config.mango
    assert cfg is not None
    if market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {market!r} is not a perp market of the "
                   f"group (perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=market)
    return market


def perp_orders(ctx: HandlerContext, e: MangoPerpOrders) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    _perp(ctx, e.market)
    for name in ("bids", "asks"):
        if getattr(e, name) < 0:
            ctx.refuse(Code.INVALID_AMOUNT, f"{name}: must not be negative", field=name)
    held = book.account(e.account)
    perps = dict(held.perps)
    perps[e.market] = replace(perps.get(e.market, MangoPerpPosition()), bids=e.bids,
                              asks=e.asks)
    return _checked(ctx, book, book.with_account(e.account, replace(held, perps=perps)),
                    e.account)


def perp_trade(ctx: HandlerContext, e: MangoPerpTrade) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    _perp(ctx, e.market)
    if e.base_lots == 0 and e.quote == 0:
        ctx.refuse(Code.INVALID_AMOUNT, "base_lots and quote: a fill moves one of them",
                   field="base_lots")
    _bounded(ctx, e.base_lots, "base_lots", -I64_MAX, I64_MAX, "i64")
    _bounded(ctx, e.quote, "quote", -I64_MAX, I64_MAX, "i64")
    _bounded(ctx, e.fee, "fee", -I64_MAX, I64_MAX, "i64")
    held = book.account(e.account)
    # The fill (MangoAccount::execute_perp_maker/taker): settle_funding, then
    # record_trading_fee (immediately settleable), then record_trade.
    pos, dust = mango_settle_funding(book, e.market, held.perps.get(e.market,
                                                                    MangoPerpPosition()))
    if e.fee:
        pos = replace(pos, quote=pos.quote - e.fee,
                      limit=mango_perp.record_oneshot(pos.limit, -rules.fx(e.fee)))
    limit = pos.limit
    cfg = ctx.config.mango
    assert cfg is not None
    if cfg.perps[e.market].settle_pnl_limit_factor >= 0:
        # The recurring allowance moves at the market's stable price (unused, and left
        # unrecorded, when the market has no settle limit).
        ctx.require_prices([e.market])
        params = mango_settle_params(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                     e.market)
        limit = mango_perp.record_trade(limit, params, rules.fx(pos.quote), pos.base_lots,
                                        e.base_lots, rules.fx(e.quote))
    perps = dict(held.perps)
    perps[e.market] = replace(pos, base_lots=pos.base_lots + e.base_lots,
                              quote=pos.quote + e.quote, limit=limit)
    after = mango_with_funding_dust(book.with_account(e.account, replace(held, perps=perps)),
                                    e.market, dust)
    details = _checked(ctx, book, after, e.account)
    return {"base_lots": perps[e.market].base_lots, "quote": perps[e.market].quote,
            **details}


def _settle_funding_of(book: MangoBook, market: str, *accounts: str) -> MangoBook:
    """``settle_funding`` on ``market`` for each of ``accounts`` that holds a position
    there (the liquidations and perp_settle_pnl do it before moving pnl or base)."""
    for account in accounts:
        held = book.account(account)
        if market not in held.perps:
            continue
        pos, dust = mango_settle_funding(book, market, held.perps[market])
        book = mango_with_funding_dust(
            book.with_account(account, replace(held, perps={**held.perps, market: pos})),
            market, dust)
    return book


def perp_update_funding(ctx: HandlerContext, e: MangoPerpUpdateFunding) -> dict[str, Any]:
    """``perp_update_funding`` (``PerpMarket::update_funding_and_stable_price``'s funding,
    :func:`~marginengine.margin.mango_perp.update_funding`): nothing when the clock has
    not moved since the last update; the oracle must be usable (Mango checks its
    staleness here)."""
    book = ctx.mango_book()
    market = _perp(ctx, e.market)
    ctx.require_prices([market])
    oracle = mango_fx_price(ctx.config, market, ctx.prices[market])
    before = book.funding_of(market)
    update = mango_perp.update_funding(before, mango_funding_params(ctx.config, market),
                                       oracle, e.bids, e.asks, ctx.time)
    if update is None:
        return {"updated": False, "long_funding": before.long_funding,
                "short_funding": before.short_funding,
                "funding_last_updated": before.last_updated}
    ctx.set_family(replace(book, funding={**book.funding, market: update.state}))
    return {"updated": True, "funding_rate": update.rate, "funding_delta": update.delta,
            "impact_bid": update.bid, "impact_ask": update.ask, "seconds": update.seconds,
            "long_funding": update.state.long_funding,
            "short_funding": update.state.short_funding,
            "funding_last_updated": update.state.last_updated}


def perp_settle_pnl(ctx: HandlerContext, e: MangoPerpSettlePnl) -> dict[str, Any]:
    """``perp_settle_pnl``: refusals in the source's order (``CannotSettleWithSelf``,
    ``PerpPositionDoesNotExist``), B's ``perp_max_settle`` and A's healths from the caches
    before, both positions' funding settled, then the rule
    (:func:`~marginengine.margin.mango_perp.perp_settle_pnl`: ``ProfitabilityMismatch``
    on the pnl at the oracle or on what the settle limits leave, ``HealthMustBePositive``
    when B's health backs nothing). The engine's balances are whole native units: the
    settlement is rounded down, and so is the fee A pays the settler."""
    ctx.account_id(e.settler, "settler")
    ctx.account_id(e.account_a, "account_a")
    ctx.account_id(e.account_b, "account_b")
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    market = _perp(ctx, e.market)
    if e.account_a == e.account_b:
        ctx.refuse(Code.MANGO_CANNOT_SETTLE_WITH_SELF, "account_a and account_b must differ: "
                   "an account cannot settle with itself", field="account_b")
    for field, account in (("account_a", e.account_a), ("account_b", e.account_b)):
        if market not in book.account(account).perps:
            ctx.refuse(Code.MANGO_PERP_POSITION_DOES_NOT_EXIST,
                       f"{field}: {account} has no position on {market}", field=field,
                       market=market)
    m = cfg.perps[market]
    ctx.require_prices([*_assets_of(ctx, book, e.account_a),
                        *_assets_of(ctx, book, e.account_b), market, m.settle])
    now = ctx.time
    stable = ctx.stable_prices()
    tokens_b, perps_b = mango_infos(ctx.config, book, ctx.prices, stable, e.account_b,
                                    now=now)
    settle_index = list(cfg.tokens).index(m.settle)
    b_max_settle = liq.perp_max_settle(tokens_b, perps_b, settle_index)
    a_liq_end = _health(ctx, book, e.account_a, rules.HealthType.LIQUIDATION_END)
    a_maint = _health(ctx, book, e.account_a, rules.HealthType.MAINT)
    book = _settle_funding_of(book, market, e.account_a, e.account_b)
    oracle = mango_fx_price(ctx.config, market, ctx.prices[market])
    settle_oracle = mango_fx_price(ctx.config, m.settle, ctx.prices[m.settle])
    params = mango_settle_params(ctx.config, book, ctx.prices, stable, market)
    pa = book.account(e.account_a).perps[market]
    pb = book.account(e.account_b).perps[market]
    limit_a = mango_perp.update_settle_limit(pa.limit, params.window_size, now)
    limit_b = mango_perp.update_settle_limit(pb.limit, params.window_size, now)
    qa, qb = rules.fx(pa.quote), rules.fx(pb.quote)
    a_pnl = mango_perp.unsettled_pnl(qa, pa.base_lots, m.base_lot_size, oracle)
    b_pnl = mango_perp.unsettled_pnl(qb, pb.base_lots, m.base_lot_size, oracle)
    decision = mango_perp.perp_settle_pnl(
        a_pnl, mango_perp.apply_pnl_settle_limit(limit_a, params, qa, pa.base_lots, a_pnl),
        b_pnl, mango_perp.apply_pnl_settle_limit(limit_b, params, qb, pb.base_lots, b_pnl),
        b_max_settle)
    if isinstance(decision, Refusal):
        ctx.refuse_with(decision)
    settlement = decision.settlement >> rules.FRAC_BITS
    limit_a = mango_perp.record_settle(limit_a, params, qa, pa.base_lots,
                                       rules.fx(settlement))
    limit_b = mango_perp.record_settle(limit_b, params, qb, pb.base_lots,
                                       -rules.fx(settlement))
    a_position_value = rules.fx_mul(rules.fx(abs(pa.base_lots * m.base_lot_size)), oracle)
    fee_raw = mango_perp.compute_settle_fee(
        mango_perp.SettleFeeParams(mango_perp.f32(float(m.settle_fee_flat)),
                                   mango_perp.f32(float(m.settle_fee_amount_threshold)),
                                   mango_perp.f32(float(m.settle_fee_fraction_low_health))),
        rules.fx(settlement), rules.fx_mul(a_pnl, settle_oracle), a_position_value,
        a_liq_end, a_maint)
    if isinstance(fee_raw, Refusal):
        ctx.refuse_with(fee_raw)
    fee = fee_raw >> rules.FRAC_BITS

    def moved(account: str, pos: MangoPerpPosition, token_change: int) -> None:
        nonlocal book
        held = book.account(account)
        tokens = dict(held.tokens)
        tokens[m.settle] = tokens.get(m.settle, 0) + token_change
        book = book.with_account(account, replace(held, tokens=tokens,
                                                  perps={**held.perps, market: pos}))

    moved(e.account_a, replace(pa, quote=pa.quote - settlement, limit=limit_a),
          settlement - fee)
    moved(e.account_b, replace(pb, quote=pb.quote + settlement, limit=limit_b), -settlement)
    if fee:
        # The settler may be A or B: its deposit comes after theirs, as in the source.
        book = _credit(book, e.settler, m.settle, fee)
    ctx.set_family(book)
    after_a = book.account(e.account_a).perps[market]
    after_b = book.account(e.account_b).perps[market]
    return {"settlement": settlement, "fee": fee, "bound": decision.bound,
            "a_pnl": a_pnl, "b_pnl": b_pnl, "b_max_settle": b_max_settle,
            "a_available_settle_limit": list(mango_perp.available_settle_limit(
                after_a.limit, params, rules.fx(after_a.quote), after_a.base_lots)),
            "b_available_settle_limit": list(mango_perp.available_settle_limit(
                after_b.limit, params, rules.fx(after_b.quote), after_b.base_lots))}


def _credit(book: MangoBook, account: str, token: str, amount: int) -> MangoBook:
    held = book.account(account)
    return book.with_account(account, replace(held, tokens={
        **held.tokens, token: held.tokens.get(token, 0) + amount}))


def set_stable_price(ctx: HandlerContext, e: MangoSetStablePrice) -> dict[str, Any]:
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    if e.asset not in cfg.tokens and e.asset not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_ASSET, f"asset: {e.asset!r} is neither a bank nor a perp "
                   "market of the group", field="asset", asset=e.asset)
    ctx.positive(e.price, "price")
    stable = dict(book.stable)
    previous = stable.get(e.asset)
    stable[e.asset] = e.price
    ctx.set_family(replace(book, stable=stable))
    return {"previous": previous}


def _refuse_self_liquidation(ctx: HandlerContext, liquidator: str, account: str) -> None:
    """Mango's ``require_keys_neq!(liqor, liqee)``, shared by every liquidation."""
    if liquidator == account:
        ctx.refuse(Code.MANGO_REQUIRE_KEYS_NEQ_VIOLATED, "an account cannot liquidate itself")


def _liqor_liqee(ctx: HandlerContext, book: MangoBook, liquidator: str,
                 account: str) -> tuple[MangoAccount, MangoAccount]:
    """The liquidator's and the liqee's accounts; a liquidator that is itself being
    liquidated is refused (``MangoError::BeingLiquidated``), in every liquidation."""
    liqor, liqee = book.account(liquidator), book.account(account)
    if liqor.being_liquidated:
        ctx.refuse(Code.MANGO_BEING_LIQUIDATED, f"liqor account {liquidator} is being "
                   "liquidated")
    return liqor, liqee


def _health(ctx: HandlerContext, book: MangoBook, account: str,
            kind: rules.HealthType) -> int:
    return mango_health(ctx.config, book, ctx.prices, ctx.stable_prices(), account, kind,
                        now=ctx.time)


def liq_token_with_token(ctx: HandlerContext, e: MangoLiqTokenWithToken) -> dict[str, Any]:
    """``token_liq_with_token``: refusals in the source's order, then the pure rule on the
    liqee's health cache; native amounts are whole units here, so the liability paid is
    rounded down and the assets moved too (the liqee keeps the remainders)."""
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.account)
    book = ctx.mango_book()
    asset = _token(ctx, e.asset_token, "asset_token")
    liab = _token(ctx, e.liab_token, "liab_token")
    if asset == liab:
        ctx.refuse(Code.MANGO_SOME_ERROR, "asset_token and liab_token must differ",
                   field="liab_token")
    _refuse_self_liquidation(ctx, e.liquidator, e.account)
    if e.max_liab_transfer != -1:
        ctx.positive(e.max_liab_transfer, "max_liab_transfer")
    liqor, liqee = _liqor_liqee(ctx, book, e.liquidator, e.account)
    ctx.require_prices([*_assets_of(ctx, book, e.account), *_assets_of(ctx, book, e.liquidator),
                        asset, liab], for_liquidation=True)
    if any(p.bids or p.asks for p in liqee.perps.values()):
        # require_after_phase1_liquidation (Serum3 open orders are not modelled).
        ctx.refuse(Code.MANGO_HAS_OPEN_PERP_ORDERS, f"{e.account} has open perp orders")
    liq_end = _health(ctx, book, e.account, rules.HealthType.LIQUIDATION_END)
    maint = _health(ctx, book, e.account, rules.HealthType.MAINT)
    check, flag = liq.check_liquidatable(liqee.being_liquidated, maint, liq_end)
    if check is not liq.CheckLiquidatable.LIQUIDATABLE:
        # Mango returns Ok without a transfer (and clears the flag when it recovered).
        ctx.set_family(book.with_account(e.account, replace(liqee, being_liquidated=flag)))
        return {"liquidatable": check.value, "liab_transfer": 0, "asset_transfer": 0,
                "maint_health": maint, "liq_end_health": liq_end}
    plan = mango_liq_plan(ctx.config, book, ctx.prices, ctx.stable_prices(), e.account,
                          asset, liab,
                          None if e.max_liab_transfer == -1 else e.max_liab_transfer,
                          now=ctx.time)
    if isinstance(plan, Refusal):
        ctx.refuse_with(plan)
    liab_paid, from_liqee, to_liqor = (plan.liab_transfer, plan.asset_from_liqee,
                                       plan.asset_to_liqor)
    fee, result = plan.asset_fee, plan.rule

    def moved(held: dict[str, int], token: str, amount: int) -> dict[str, int]:
        out = dict(held)
        out[token] = out.get(token, 0) + amount
        return out

    liqee_tokens = moved(moved(dict(liqee.tokens), liab, liab_paid), asset, -from_liqee)
    liqor_tokens = moved(moved(dict(liqor.tokens), liab, -liab_paid), asset, to_liqor)
    after = book.with_account(e.account, replace(liqee, tokens=liqee_tokens))
    after = after.with_account(e.liquidator, replace(liqor, tokens=liqor_tokens))
    fees = dict(after.fees)
    fees[asset] = fees.get(asset, 0) + fee
    after = replace(after, fees=fees)
    liq_end_after = _health(ctx, after, e.account, rules.HealthType.LIQUIDATION_END)
    after = after.with_account(e.account, replace(
        after.account(e.account), being_liquidated=not liq.recovers(liq_end_after)))
    # The liqor's own check (no health region in the engine): init health >= 0.
    liqor_health = _health(ctx, after, e.liquidator, rules.HealthType.INIT)
    if liqor_health < 0:
        ctx.refuse(Code.MANGO_HEALTH_MUST_BE_POSITIVE,
                   f"liqor {e.liquidator}'s init health would be "
                   f"{rules.fx_to_f64(liqor_health):.6f} native quote",
                   init_health=liqor_health)
    ctx.set_family(after)
    return {"liquidatable": check.value, "liab_transfer": liab_paid,
            "asset_transfer": from_liqee, "asset_to_liquidator": to_liqor,
            "asset_liquidation_fee": fee, "liab_needed": result.liab_needed,
            "liab_possible": result.liab_possible, "liq_end_health": liq_end_after,
            "being_liquidated": not liq.recovers(liq_end_after)}


def token_liq_bankruptcy(ctx: HandlerContext, e: MangoTokenLiqBankruptcy) -> dict[str, Any]:
    """``token_liq_bankruptcy``: refusals in the source's order
    (``require_after_phase2_liquidation`` names what must be liquidated first), the
    account marked as being liquidated, the insurance part, then, once the fund is
    exhausted, the rest socialized over the bank's depositors (their balances drop in
    proportion, the liqee's borrow is credited; the deposit index is kept)."""
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.account)
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    liab = _token(ctx, e.liab_token, "liab_token")
    _refuse_self_liquidation(ctx, e.liquidator, e.account)
    if e.max_liab_transfer != -1:
        ctx.positive(e.max_liab_transfer, "max_liab_transfer")
    liqor, liqee = _liqor_liqee(ctx, book, e.liquidator, e.account)
    ctx.require_prices([*_assets_of(ctx, book, e.account), *_assets_of(ctx, book, e.liquidator),
                        liab, cfg.quote], for_liquidation=True)
    refusal = mango_phase2_refusal(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                   e.account, now=ctx.time)
    if refusal is not None:
        ctx.refuse_with(refusal)
    plan = mango_bankruptcy_plan(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                 e.liquidator, e.account, liab,
                                 None if e.max_liab_transfer == -1 else e.max_liab_transfer,
                                 now=ctx.time)
    if isinstance(plan, Refusal):
        ctx.refuse_with(plan)
    after = book
    if plan.insurance_transfer:
        liqee_tokens = dict(liqee.tokens)
        liqee_tokens[liab] = plan.liab_after_insurance
        after = after.with_account(e.account, replace(liqee, tokens=liqee_tokens))
        if liab != cfg.quote:
            # The liqor gets the fund's quote and pays the liability into the liqee.
            liqor_tokens = dict(liqor.tokens)
            liqor_tokens[cfg.quote] = liqor_tokens.get(cfg.quote, 0) + plan.insurance_transfer
            liqor_tokens[liab] = liqor_tokens.get(liab, 0) - plan.liab_transfer
            after = after.with_account(e.liquidator, replace(liqor, tokens=liqor_tokens))
        after = replace(after, insurance_paid=after.insurance_paid + plan.insurance_transfer)
    if plan.socialized:
        for holder, share in sorted(plan.shares.items()):
            if holder == MANGO_OUTSIDE:
                continue
            held = after.account(holder)
            moved = dict(held.tokens)
            moved[liab] -= share
            after = after.with_account(holder, replace(held, tokens=moved))
        held = after.account(e.account)
        credited = dict(held.tokens)
        credited[liab] = credited.get(liab, 0) + plan.socialized
        after = after.with_account(e.account, replace(held, tokens=credited))
        after = replace(
            after,
            deposit_index={**after.deposit_index, liab: plan.deposit_index},
            socialized={**after.socialized, liab: after.socialized.get(liab, 0)
                        + plan.socialized},
            outside_loss={**after.outside_loss, liab: after.outside_loss.get(liab, 0)
                          + plan.shares.get(MANGO_OUTSIDE, 0)})
    liq_end_after = _health(ctx, after, e.account, rules.HealthType.LIQUIDATION_END)
    being = not liq.recovers(liq_end_after)
    after = after.with_account(e.account, replace(after.account(e.account),
                                                  being_liquidated=being))
    if plan.insurance_transfer and liab != cfg.quote:
        # The liqor's own check (no health region in the engine): init health >= 0.
        liqor_health = _health(ctx, after, e.liquidator, rules.HealthType.INIT)
        if liqor_health < 0:
            ctx.refuse(Code.MANGO_HEALTH_MUST_BE_POSITIVE,
                       f"liqor {e.liquidator}'s init health would be "
                       f"{rules.fx_to_f64(liqor_health):.6f} native quote",
                       init_health=liqor_health)
    ctx.set_family(after)
    return {"insurance_transfer": plan.insurance_transfer, "liab_transfer": plan.liab_transfer,
            "socialized_loss": plan.socialized,
            "socialized_outside": plan.shares.get(MANGO_OUTSIDE, 0),
            "starting_deposit_index": book.index_of(liab),
            "ending_deposit_index": plan.deposit_index,
            "insurance_fund_exhausted": plan.rule.insurance_fund_exhausted,
            "liab_after": after.account(e.account).tokens.get(liab, 0),
            "liq_end_health": liq_end_after, "being_liquidated": being}


def perp_liq_base_or_positive_pnl(ctx: HandlerContext,
                                  e: MangoPerpLiqBaseOrPositivePnl) -> dict[str, Any]:
    """``perp_liq_base_or_positive_pnl``: refusals in the source's order, a no-op when the
    liqee is not liquidatable (as Mango returns ``Ok``), then the pure rule; the liqee's
    liquidation-end health must not fall (``require_gte!``) and the liquidator's init
    health must stay non-negative."""
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.account)
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    market = _perp(ctx, e.market)
    _refuse_self_liquidation(ctx, e.liquidator, e.account)
    if e.max_pnl_transfer < 0:
        ctx.refuse(Code.INVALID_AMOUNT, "max_pnl_transfer: must not be negative (a u64)",
                   field="max_pnl_transfer")
    liqor, liqee = _liqor_liqee(ctx, book, e.liquidator, e.account)
    settle = cfg.perps[market].settle
    ctx.require_prices([*_assets_of(ctx, book, e.account), *_assets_of(ctx, book, e.liquidator),
                        market, settle], for_liquidation=True)
    liq_end = _health(ctx, book, e.account, rules.HealthType.LIQUIDATION_END)
    if any(p.bids or p.asks for p in liqee.perps.values()):
        ctx.refuse(Code.MANGO_HAS_OPEN_PERP_ORDERS, f"{e.account} has open perp orders")
    maint = _health(ctx, book, e.account, rules.HealthType.MAINT)
    check, flag = liq.check_liquidatable(liqee.being_liquidated, maint, liq_end)
    if check is not liq.CheckLiquidatable.LIQUIDATABLE:
        ctx.set_family(book.with_account(e.account, replace(liqee, being_liquidated=flag)))
        return {"liquidatable": check.value, "base_transfer": 0, "pnl_transfer": 0,
                "maint_health": maint, "liq_end_health": liq_end}
    if market not in liqee.perps:
        ctx.refuse(Code.MANGO_PERP_POSITION_DOES_NOT_EXIST,
                   f"{e.account} has no position on {market}", market=market)
    plan = mango_perp_liq_plan(ctx.config, book, ctx.prices, ctx.stable_prices(), e.account,
                               market, e.max_base_transfer, e.max_pnl_transfer,
                               now=ctx.time)
    if isinstance(plan, Refusal):
        ctx.refuse_with(plan)
    # settle_funding on both positions before the base moves (the plan's health already
    # counted the unsettled funding).
    book = _settle_funding_of(book, market, e.account, e.liquidator)
    liqor, liqee = book.account(e.liquidator), book.account(e.account)
    liqee = replace(liqee, being_liquidated=True)
    pos = liqee.perps[market]
    theirs = liqor.perps.get(market, MangoPerpPosition())
    liqee_limit, liqor_limit = pos.limit, theirs.limit
    if cfg.perps[market].settle_pnl_limit_factor >= 0:
        # The base reduction is a forced trade (record_trade on both sides: the liqee's
        # recurring allowance gains the reduced lots' share); the pnl taken over is settled
        # away from the liqee (record_settle). Not modelled: the liqor's share of the
        # liqee's allowances (record_liquidation_pnl_takeover).
        params = mango_settle_params(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                     market)
        if plan.base_transfer:
            liqee_limit = mango_perp.record_trade(
                liqee_limit, params, rules.fx(pos.quote), pos.base_lots, plan.base_transfer,
                rules.fx(plan.quote_liqee))
            liqor_limit = mango_perp.record_trade(
                liqor_limit, params, rules.fx(theirs.quote), theirs.base_lots,
                -plan.base_transfer, rules.fx(plan.quote_liqor))
        if plan.pnl_transfer:
            liqee_limit = mango_perp.update_settle_limit(liqee_limit, params.window_size,
                                                         ctx.time)
            liqee_limit = mango_perp.record_settle(
                liqee_limit, params, rules.fx(pos.quote + plan.quote_liqee),
                pos.base_lots + plan.base_transfer, rules.fx(plan.pnl_transfer))
    liqee_perps, liqor_perps = dict(liqee.perps), dict(liqor.perps)
    liqee_perps[market] = replace(pos, base_lots=pos.base_lots + plan.base_transfer,
                                  quote=pos.quote + plan.quote_liqee - plan.pnl_transfer,
                                  limit=liqee_limit)
    liqor_perps[market] = replace(theirs, base_lots=theirs.base_lots - plan.base_transfer,
                                  quote=theirs.quote + plan.quote_liqor + plan.pnl_transfer,
                                  limit=liqor_limit)
    liqee_tokens, liqor_tokens = dict(liqee.tokens), dict(liqor.tokens)
    if plan.token_transfer:
        liqee_tokens[settle] = liqee_tokens.get(settle, 0) + plan.token_transfer
        liqor_tokens[settle] = liqor_tokens.get(settle, 0) - plan.token_transfer
    after = book.with_account(e.account, replace(liqee, perps=liqee_perps, tokens=liqee_tokens))
    after = after.with_account(e.liquidator, replace(liqor, perps=liqor_perps,
                                                     tokens=liqor_tokens))
    if plan.platform_fee:
        after = replace(after, perp_fees={**after.perp_fees, market: after.perp_fees.get(
            market, 0) + plan.platform_fee})
    liq_end_after = _health(ctx, after, e.account, rules.HealthType.LIQUIDATION_END)
    after = after.with_account(e.account, replace(
        after.account(e.account), being_liquidated=not liq.recovers(liq_end_after)))
    if liq_end_after < liq_end:
        ctx.refuse(Code.MANGO_REQUIRE_GTE_VIOLATED,
                   f"the liqee's liquidation-end health would fall from "
                   f"{rules.fx_to_f64(liq_end):.6f} to {rules.fx_to_f64(liq_end_after):.6f}",
                   before=liq_end, after=liq_end_after)
    liqor_health = _health(ctx, after, e.liquidator, rules.HealthType.INIT)
    if liqor_health < 0:
        ctx.refuse(Code.MANGO_HEALTH_MUST_BE_POSITIVE,
                   f"liqor {e.liquidator}'s init health would be "
                   f"{rules.fx_to_f64(liqor_health):.6f} native quote",
                   init_health=liqor_health)
    ctx.set_family(after)
    return {"liquidatable": check.value, "base_transfer": plan.base_transfer,
            "quote_transfer_liqee": plan.quote_liqee, "quote_transfer_liqor": plan.quote_liqor,
            "platform_fee": plan.platform_fee, "pnl_transfer": plan.pnl_transfer,
            "token_transfer": plan.token_transfer, "liq_end_health": liq_end_after,
            "being_liquidated": not liq.recovers(liq_end_after)}


def perp_liq_negative_pnl_or_bankruptcy(ctx: HandlerContext,
                                        e: MangoPerpLiqNegativePnlOrBankruptcy
                                        ) -> dict[str, Any]:
    """``perp_liq_negative_pnl_or_bankruptcy``: refusals in the source's order
    (``require_after_phase2_liquidation``, then a no-op when not liquidatable), the
    settlement against the liqee's settle tokens, the insurance fund, the socialized loss
    spread over the market's other positions by base lots (Mango lowers both sides'
    funding per contract of open interest); the liquidator's init health must stay
    non-negative."""
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.account)
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    market = _perp(ctx, e.market)
    _refuse_self_liquidation(ctx, e.liquidator, e.account)
    if e.max_liab_transfer < 0:
        ctx.refuse(Code.INVALID_AMOUNT, "max_liab_transfer: must not be negative (a u64)",
                   field="max_liab_transfer")
    liqor, liqee = _liqor_liqee(ctx, book, e.liquidator, e.account)
    settle = cfg.perps[market].settle
    ctx.require_prices([*_assets_of(ctx, book, e.account), *_assets_of(ctx, book, e.liquidator),
                        market, settle, cfg.quote], for_liquidation=True)
    liq_end = _health(ctx, book, e.account, rules.HealthType.LIQUIDATION_END)
    refusal = mango_phase2_refusal(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                   e.account, now=ctx.time)
    if refusal is not None:
        ctx.refuse_with(refusal)
    maint = _health(ctx, book, e.account, rules.HealthType.MAINT)
    check, flag = liq.check_liquidatable(liqee.being_liquidated, maint, liq_end)
    if check is not liq.CheckLiquidatable.LIQUIDATABLE:
        ctx.set_family(book.with_account(e.account, replace(liqee, being_liquidated=flag)))
        return {"liquidatable": check.value, "settlement": 0, "insurance_transfer": 0,
                "socialized_loss": 0, "maint_health": maint, "liq_end_health": liq_end}
    if market not in liqee.perps:
        ctx.refuse(Code.MANGO_PERP_POSITION_DOES_NOT_EXIST,
                   f"{e.account} has no position on {market}", market=market)
    plan = mango_perp_bankruptcy_plan(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                      e.account, market, e.max_liab_transfer,
                                      now=ctx.time)
    if isinstance(plan, Refusal):
        ctx.refuse_with(plan)
    book = _settle_funding_of(book, market, e.account, e.liquidator)
    liqor, liqee = book.account(e.liquidator), book.account(e.account)
    taken = plan.settlement + plan.insurance_liab_transfer
    pos = liqee.perps[market]
    theirs = liqor.perps.get(market, MangoPerpPosition())
    liqee_limit, liqor_limit = pos.limit, theirs.limit
    if cfg.perps[market].settle_pnl_limit_factor >= 0:
        # The liqee's settlements count against its window (record_settle of each part);
        # the liqor's takeover is immediately settleable (record_liquidation_quote_change).
        params = mango_settle_params(ctx.config, book, ctx.prices, ctx.stable_prices(),
                                     market)
        liqee_limit = mango_perp.update_settle_limit(liqee_limit, params.window_size,
                                                     ctx.time)
        quote = pos.quote
        for part in (plan.settlement, plan.insurance_liab_transfer, plan.socialized):
            if part:
                liqee_limit = mango_perp.record_settle(liqee_limit, params, rules.fx(quote),
                                                       pos.base_lots, -rules.fx(part))
                quote += part
        if taken:
            liqor_limit = mango_perp.record_oneshot(liqor_limit, -rules.fx(taken))
    liqee_perps, liqor_perps = dict(liqee.perps), dict(liqor.perps)
    liqee_perps[market] = replace(pos, quote=pos.quote + taken + plan.socialized,
                                  limit=liqee_limit)
    liqor_perps[market] = replace(theirs, quote=theirs.quote - taken, limit=liqor_limit)
    liqee_tokens, liqor_tokens = dict(liqee.tokens), dict(liqor.tokens)
    if plan.settlement:
        liqee_tokens[settle] = liqee_tokens.get(settle, 0) - plan.settlement
        liqor_tokens[settle] = liqor_tokens.get(settle, 0) + plan.settlement
    if plan.insurance_transfer:
        liqor_tokens[cfg.quote] = liqor_tokens.get(cfg.quote, 0) + plan.insurance_transfer
    after = book.with_account(e.account, replace(liqee, perps=liqee_perps, tokens=liqee_tokens,
                                                 being_liquidated=True))
    after = after.with_account(e.liquidator, replace(liqor, perps=liqor_perps,
                                                     tokens=liqor_tokens))
    for holder, share in sorted(plan.shares.items()):
        held = after.account(holder)
        holder_perps = dict(held.perps)
        holder_perps[market] = replace(holder_perps[market],
                                       quote=holder_perps[market].quote - share)
        after = after.with_account(holder, replace(held, perps=holder_perps))
    unallocated = plan.socialized - sum(plan.shares.values())
    after = replace(
        after, insurance_paid=after.insurance_paid + plan.insurance_transfer,
        perp_socialized={**after.perp_socialized, market: after.perp_socialized.get(
            market, 0) + plan.socialized} if plan.socialized else after.perp_socialized,
        perp_unallocated={**after.perp_unallocated, market: after.perp_unallocated.get(
            market, 0) + unallocated} if unallocated else after.perp_unallocated)
    liq_end_after = _health(ctx, after, e.account, rules.HealthType.LIQUIDATION_END)
    being = not liq.recovers(liq_end_after)
    after = after.with_account(e.account, replace(after.account(e.account),
                                                  being_liquidated=being))
    liqor_health = _health(ctx, after, e.liquidator, rules.HealthType.INIT)
    if liqor_health < 0:
        ctx.refuse(Code.MANGO_HEALTH_MUST_BE_POSITIVE,
                   f"liqor {e.liquidator}'s init health would be "
                   f"{rules.fx_to_f64(liqor_health):.6f} native quote",
                   init_health=liqor_health)
    ctx.set_family(after)
    return {"liquidatable": check.value, "settlement": plan.settlement,
            "insurance_transfer": plan.insurance_transfer,
            "insurance_liab_transfer": plan.insurance_liab_transfer,
            "insurance_fund_exhausted": plan.rule.insurance_fund_exhausted,
            "socialized_loss": plan.socialized, "socialized_unallocated": unallocated,
            "liq_end_health": liq_end_after, "being_liquidated": being}


__all__ = ["deposit", "liq_token_with_token", "perp_liq_base_or_positive_pnl",
           "perp_liq_negative_pnl_or_bankruptcy", "perp_orders", "perp_settle_pnl",
           "perp_trade", "perp_update_funding",
           "set_stable_price", "token_liq_bankruptcy", "withdraw"]
