"""The engine: applies events to the ledger under the preset's rules and logs every outcome.

For each event the engine opens a ledger transaction, validates and applies the event,
refreshes the interest rates of the assets it touched, checks conservation, and writes
the outcome to the log; only then is the outcome returned. A refused event is rolled
back and logged as ``<Type>Rejected`` with its reason. Same events, same state hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig, validate_model
from marginengine.engine import auction_handlers, perp_handlers
from marginengine.engine.events import (
    Absorb,
    AdvanceTime,
    Bark,
    Borrow,
    BuyCollateral,
    Deal,
    Dent,
    Deposit,
    DepositQuote,
    Event,
    FundInsurance,
    Liquidate,
    LiquidatePerp,
    Outcome,
    Redo,
    Repay,
    SetPrice,
    Take,
    Tend,
    Tick,
    Trade,
    TransferQuote,
    Withdraw,
    WithdrawQuote,
    event_from_dict,
)
from marginengine.engine.rejected import Rejected, fmt_health, fmt_usd
from marginengine.errors import ConfigError, EventError, LogError, MarginEngineError
from marginengine.fixedpoint import RAY, WAD, Rounding, bps_div, format_units
from marginengine.ledger import Ledger, LedgerError, check_account_id
from marginengine.liquidation import (
    AbsorbPlan,
    CloseFactorInputs,
    CloseFactorPlan,
    LiquidationRefused,
    plan_absorb,
    plan_liquidation,
    quote_collateral,
)
from marginengine.margin import (
    AccountData,
    MarginKind,
    WeightedMarginModel,
    value_of,
)
from marginengine.margin.perp import BucketRisk, PerpMarginModel, mark_price
from marginengine.oracle import MarketOracle, PriceStatus, PriceTable
from marginengine.persistence import (
    Durability,
    EventLog,
    LogRecord,
    encode,
    open_log,
)


@dataclass(frozen=True)
class LiquidationQuote:
    """The largest liquidation a keeper can make on an account right now.

    ``debt_to_cover`` is the amount to offer in a :class:`Liquidate` event to get exactly
    ``plan`` (offering ``plan.debt_repaid`` instead can round to a different plan).
    """

    account: str
    debt_asset: str
    collateral_asset: str
    plan: CloseFactorPlan | None
    absorb: AbsorbPlan | None
    refusal: str | None
    debt_to_cover: int = 0


@dataclass(frozen=True)
class Change:
    """What an accepted event changed, for mirrors of the state (the risk book).

    Attributes
    ----------
    outcome
        The accepted outcome.
    accounts
        Accounts whose positions changed.
    assets
        Assets whose reserve changed (totals, indices, rates).
    prices
        Assets whose price changed.
    """

    outcome: Outcome
    accounts: tuple[str, ...]
    assets: tuple[str, ...]
    prices: tuple[str, ...]


@dataclass(frozen=True)
class ReplayReport:
    """What ``replay`` found: the events applied, the state hash, and how the log ended.

    ``truncated``: the log was not closed (its writer stopped); every acknowledged event
    was replayed, and ``note`` says where it ends and whether a torn last write was ignored.
    ``format_version``: the log's format (``"1"`` logs have no chain and no acknowledged
    count, so a lost tail cannot be detected in them).
    """

    events: int
    state_hash: str
    truncated: bool
    note: str
    format_version: str = "2"


class Engine:
    """The margin engine for one protocol.

    Parameters
    ----------
    config
        The validated protocol.
    log
        Where to write outcomes; ``None`` keeps no log (tests, what-if copies).
    check_invariants
        Check conservation after every event, in O(what the event touched) (on by
        default; an ``InvariantViolation`` means a bug, and the event is rolled back).
        ``engine.ledger.check_conservation()`` audits the whole ledger at any time.
    """

    def __init__(self, config: ProtocolConfig, log: EventLog | None = None,
                 check_invariants: bool = True) -> None:
        self.config = config
        self.ledger = Ledger(config)
        self.prices = PriceTable()
        self.model = WeightedMarginModel(config)
        self.log = log
        self.check_invariants = check_invariants
        self.seq = 0
        self._handlers: dict[type[Event], Callable[[Any], dict[str, Any]]] = {
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            Borrow: self._borrow,
            Repay: self._repay,
            SetPrice: self._set_price,
            AdvanceTime: self._advance_time,
            Liquidate: self._liquidate,
            Absorb: self._absorb,
            BuyCollateral: self._buy_collateral,
            DepositQuote: lambda e: perp_handlers.deposit_quote(self, e),
            WithdrawQuote: lambda e: perp_handlers.withdraw_quote(self, e),
            TransferQuote: lambda e: perp_handlers.transfer_quote(self, e),
            Trade: lambda e: perp_handlers.trade(self, e),
            LiquidatePerp: lambda e: perp_handlers.liquidate_perp(self, e),
            FundInsurance: lambda e: perp_handlers.fund_insurance(self, e),
            Bark: lambda e: auction_handlers.bark(self, e),
            Take: lambda e: auction_handlers.take(self, e),
            Redo: lambda e: auction_handlers.redo(self, e),
            Tend: lambda e: auction_handlers.tend(self, e),
            Dent: lambda e: auction_handlers.dent(self, e),
            Deal: lambda e: auction_handlers.deal(self, e),
            Tick: lambda e: auction_handlers.tick(self, e),
        }
        self.auctions = (auction_handlers.AuctionHouse.of(config.auction)
                         if config.auction is not None else None)
        self._pending_auctions: auction_handlers.AuctionHouse | None = None
        self.perp_model = PerpMarginModel(self.model)
        self.oracles = {asset: MarketOracle(asset, config.oracle)
                        for asset in (*config.markets, *config.perps)}
        self._pending_prices: list[tuple[str, int]] = []
        self._pending_oracles: dict[str, MarketOracle] = {}
        self._listeners: list[Callable[[Change], None]] = []

    @classmethod
    def with_log(cls, config: ProtocolConfig, path: str | Path, synchronous: str = "FULL",
                 durability: Durability | str = Durability.EVENT,
                 checkpoint_every: int | None = None) -> Engine:
        """An engine writing a new SQLite event log at ``path``.

        Parameters
        ----------
        synchronous
            ``FULL`` (default): a commit survives power loss; ``NORMAL``: a crash of the
            process (see :meth:`marginengine.persistence.SQLiteStore.create`).
        durability
            ``"event"`` (default): every outcome is durable before :meth:`apply` returns it;
            ``"batch"``: outcomes are committed together by :meth:`commit` or at the end of
            a ``with engine.batch():`` block (and at :meth:`close`).
        checkpoint_every
            Checkpoint the WAL into the main file, with the acknowledged count, every this
            many events (default: whenever the WAL reaches 1,000 pages, and at close).
        """
        meta = {"protocol": json.dumps(config.model_dump(mode="json"), sort_keys=True)}
        return cls(config, EventLog.sqlite(path, meta, synchronous=synchronous,
                                           durability=durability,
                                           checkpoint_every=checkpoint_every))

    # ------------------------------------------------------------------ applying events
    def apply(self, event: Event) -> Outcome:
        """Apply one event; return its outcome once it is in the log."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise EventError(f"not an event the engine applies: {event!r}")
        seq = self.seq + 1
        self._pending_prices = []
        self._pending_oracles = {}
        self._pending_auctions = None
        accounts: list[str] = []
        assets: list[str] = []
        try:
            with self.ledger.transaction():
                details = handler(event)
                for asset in self.ledger.touched_assets():
                    self.ledger.update_rates(asset)
                if self.check_invariants:
                    self.ledger.check_transaction()
                outcome = Outcome(seq, event, True, None, details)
                self._write(outcome)
                accounts = self.ledger.touched_accounts()
                assets = self.ledger.touched_assets()
        except Rejected as rejection:
            outcome = Outcome(seq, event, False, rejection.reason)
            self._write(outcome)
            self._pending_prices = []
            self._pending_oracles = {}
            self._pending_auctions = None
        if self._pending_auctions is not None:
            self.auctions = self._pending_auctions
            self._pending_auctions = None
        for asset, price in self._pending_prices:
            self.prices.set(asset, price)
        self.oracles.update(self._pending_oracles)
        self.seq = seq
        if outcome.accepted and self._listeners:
            change = Change(outcome, tuple(accounts), tuple(assets),
                            tuple(a for a, _ in self._pending_prices))
            for listener in self._listeners:
                listener(change)
        return outcome

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        """Call ``listener`` with the :class:`Change` of every accepted event, after it is
        logged and applied (mirrors such as the risk book stay in step incrementally)."""
        self._listeners.append(listener)

    def apply_all(self, events: Iterable[Event]) -> list[Outcome]:
        """Apply events in order."""
        return [self.apply(e) for e in events]

    def _write(self, outcome: Outcome) -> None:
        if self.log is not None:
            record = outcome.to_dict()
            self.log.write(outcome.seq, record["outcome"], outcome.accepted, record)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit the outcomes of the events applied in the block once, at its end.

        For a simulator step or a service tick: one commit per block instead of one per
        event, whatever the log's durability; a crash loses the block in progress (replay
        reaches the last whole block). Without a log it does nothing.
        """
        if self.log is None:
            yield
            return
        with self.log.batch():
            yield

    def commit(self) -> None:
        """Commit the outcomes held by a per-batch log (nothing to do per event or without
        a log); a :class:`LogError` leaves them held for a retry."""
        if self.log is not None:
            self.log.commit()

    def close(self) -> None:
        """Commit what is held, write the close record and close the log, if any."""
        if self.log is not None:
            self.log.close()

    # ------------------------------------------------------------------ reads
    def account_data(self, account_id: str) -> AccountData:
        """Aave-style account data (collateral, debt, averages, HF) at current prices."""
        return self.model.account_data(self.ledger, self.prices, account_id)

    def health_factor(self, account_id: str) -> int:
        """The account's health factor (wad): Aave's for a lending-only account; the
        bucket's maintenance value over requirement when it holds perps."""
        if self.has_perps(account_id):
            return self.bucket(account_id).margin(MarginKind.MAINTENANCE).health
        return self.account_data(account_id).health_factor

    def is_liquidatable(self, account_id: str) -> bool:
        """Whether the preset's rules allow liquidating the account now (a bucket with
        perps: when its maintenance value is below its requirement)."""
        if self.has_perps(account_id):
            state = self.bucket(account_id).margin(MarginKind.MAINTENANCE)
            return state.requirement > 0 and state.value < state.requirement
        return self.model.is_liquidatable(self.ledger, self.prices, account_id)

    # ------------------------------------------------------------------ perps
    def has_perps(self, account_id: str) -> bool:
        """Whether the account holds perp positions or a perp balance."""
        account = self.ledger.accounts.get(account_id)
        return bool(account and (account.perps or account.perp_quote))

    def has_risk(self, account_id: str) -> bool:
        """Whether the account has lending debt or perp positions."""
        account = self.ledger.accounts.get(account_id)
        if account is None:
            return False
        return bool(account.perps) or any(p.scaled_debt for p in account.lending.values())

    def priced_assets(self, account_id: str) -> list[str]:
        """Every price the account's valuation uses: its lending assets, its perp markets
        and the perp quote asset."""
        account = self.ledger.accounts.get(account_id)
        if account is None:
            return []
        assets = set(account.lending) | set(account.perps)
        if account.perps and self.perp_model.quote_asset:
            assets.add(self.perp_model.quote_asset)
        return sorted(assets)

    def mark(self, market: str) -> int:
        """A perp market's mark price (see :func:`~marginengine.margin.perp.mark_price`)."""
        state = self.ledger.clearing.markets[market]
        return mark_price(self.prices[market], state.last_trade_price, state.basis_ema_ppm)

    def marks(self) -> dict[str, int]:
        """Mark prices of every perp market with an index price."""
        return {m: self.mark(m) for m in self.config.perps if m in self.prices}

    def bucket(self, account_id: str, initial: bool = False) -> BucketRisk:
        """The account's whole margin bucket: lending and perps (initial: at the
        initial-margin prices of the oracle layer)."""
        if initial:
            collateral, debt = self.initial_prices()
            return self.perp_model.bucket(self.ledger, collateral, self.marks(), account_id,
                                          debt)
        return self.perp_model.bucket(self.ledger, self.prices, self.marks(), account_id)

    def equity_quote(self, risk: BucketRisk) -> int:
        """A bucket's unweighted equity converted to quote smallest units (signed)."""
        usd = risk.equity
        magnitude = abs(usd) * risk.quote_unit // risk.quote_price
        return magnitude if usd >= 0 else -magnitude

    def state_hash(self) -> str:
        """SHA-256 over the ledger, the prices and the event count."""
        return self.ledger.state_hash({
            "prices": self.prices.as_dict(),
            "seq": self.seq,
            "oracles": {a: o.state_dict() for a, o in sorted(self.oracles.items())},
            "auctions": self.auctions.state_dict() if self.auctions else None,
        })

    def bad_debt_value(self) -> int:
        """Bad debt recognised so far (deficit or absorbed), in base-currency units."""
        return sum(
            value_of(r.bad_debt, self.prices[a], self.config.markets[a].unit, Rounding.UP)
            for a, r in self.ledger.reserves.items()
            if r.bad_debt
        )

    def underwater_value(self) -> int:
        """Debt not covered by collateral at current prices, summed over accounts."""
        total = 0
        for account_id in self.ledger.accounts:
            data = self.account_data(account_id)
            total += max(0, data.total_debt - data.total_collateral)
        return total

    # ------------------------------------------------------------------ validation helpers
    def _market(self, asset: object, field: str = "asset") -> str:
        if not isinstance(asset, str) or asset not in self.config.markets:
            raise Rejected(f"{field}: unknown asset {asset!r}")
        return asset

    @staticmethod
    def _positive(amount: int, field: str = "amount") -> int:
        if amount <= 0:
            raise Rejected(f"{field}: must be positive (got {amount})")
        return amount

    @staticmethod
    def _account_id(account_id: str, field: str = "account") -> str:
        try:
            return check_account_id(account_id, field)
        except ValueError as exc:
            raise Rejected(str(exc)) from None

    def _existing(self, account_id: str, field: str = "account") -> str:
        self._account_id(account_id, field)
        if account_id not in self.ledger.accounts:
            raise Rejected(f"{field}: unknown account {account_id!r}")
        return account_id

    def _price(self, asset: str) -> int:
        if asset not in self.prices:
            raise Rejected(f"no price has been set for {asset}")
        return self.prices[asset]

    def _units(self, asset: str, amount: int) -> str:
        return f"{format_units(amount, self.config.markets[asset].decimals)} {asset}"

    def _account_assets(self, account_id: str) -> list[str]:
        account = self.ledger.accounts.get(account_id)
        return sorted(account.lending) if account else []

    def _require_prices(self, assets: Iterable[str], for_liquidation: bool = False) -> None:
        """Refuse unless every price the decision uses is usable now (the oracle layer
        decides: set, fresh enough, and its circuit breaker allows the action)."""
        for asset in sorted(set(assets)):
            oracle = self._oracle(asset)
            refusal = (oracle.liquidation_refusal(self.ledger.time) if for_liquidation
                       else oracle.risk_increase_refusal(self.ledger.time))
            if refusal:
                raise Rejected(refusal)

    def _oracle(self, asset: str) -> MarketOracle:
        return self._pending_oracles.get(asset) or self.oracles[asset]

    def initial_prices(self) -> tuple[dict[str, int], dict[str, int]]:
        """Prices for initial margin: collateral at ``min(oracle, stable)`` and debt at
        ``max(oracle, stable)`` where the stable price is enabled; else the oracle's."""
        collateral = {a: self._oracle(a).initial_collateral_price(p)
                      for a, p in self.prices.items()}
        debt = {a: self._oracle(a).initial_debt_price(p) for a, p in self.prices.items()}
        return collateral, debt

    def initial_account_data(self, account_id: str) -> AccountData:
        """Account data at the initial-margin prices (see :meth:`initial_prices`)."""
        collateral, debt = self.initial_prices()
        return self.model.account_data(self.ledger, collateral, account_id, debt_prices=debt)

    def borrowing_power(self, account_id: str, asset: str) -> int:
        """Units of ``asset`` the account could borrow at most now (initial margin)."""
        data = self.initial_account_data(account_id)
        _, debt = self.initial_prices()
        return data.available_borrows * self.config.markets[asset].unit // debt[asset]

    def _initial_shortfall(self, data: AccountData) -> bool:
        """Aave: ``percentDiv(debt, avgLtv) > collateral``. Comet: weighted < debt."""
        if data.total_debt == 0:
            return False
        if self.config.preset == "aave-v3":
            if data.avg_ltv_bps == 0:
                return True
            return bps_div(data.total_debt, data.avg_ltv_bps) > data.total_collateral
        return data.initial_value < data.total_debt

    # ------------------------------------------------------------------ handlers
    def _deposit(self, e: Deposit) -> dict[str, Any]:
        self._account_id(e.account)
        asset = self._market(e.asset)
        amount = self._positive(e.amount)
        market = self.config.markets[asset]
        r = self.ledger.reserves[asset]
        cap = market.supply_cap_units
        if cap and r.total_supply() + r.treasury + amount > cap:
            raise Rejected(
                f"supply cap of {self._units(asset, cap)} would be exceeded "
                f"(total would be {self._units(asset, r.total_supply() + r.treasury + amount)})"
            )
        details: dict[str, Any] = {}
        debt = self.ledger.debt_of(e.account, asset)
        if self.config.preset == "compound-v3" and debt:
            # Comet's balance is signed: supplying base first repays the borrow.
            repaid = min(debt, amount)
            self.ledger.repay(e.account, asset, repaid)
            details["repaid"] = repaid
            amount -= repaid
        if amount:
            try:
                details["scaled"] = self.ledger.deposit(e.account, asset, amount)
            except LedgerError as exc:
                raise Rejected(str(exc)) from None
        return details

    def _withdraw(self, e: Withdraw) -> dict[str, Any]:
        self._existing(e.account)
        asset = self._market(e.asset)
        amount = self._positive(e.amount)
        balance = self.ledger.supply_of(e.account, asset)
        if balance == 0:
            raise Rejected(f"{e.account} has no {asset} supplied")
        if amount > balance:
            raise Rejected(
                f"amount {self._units(asset, amount)} is beyond the supplied balance "
                f"{self._units(asset, balance)}"
            )
        # Asked before withdrawing: withdrawing the whole balance removes the position.
        was_collateral = self.ledger.uses_as_collateral(e.account, asset)
        assets = self._account_assets(e.account)
        if was_collateral and any(self.ledger.debt_of(e.account, a) for a in assets):
            self._require_prices(assets)
        try:
            self.ledger.withdraw(e.account, asset, amount)
        except LedgerError as exc:
            raise Rejected(f"not enough liquidity: {exc}") from None
        if not was_collateral:
            return {"withdrawn": amount}
        if self.ledger.accounts[e.account].perps:
            self._require_prices(self.priced_assets(e.account))
            perp_handlers.check_initial(self, e.account)
        data = self.account_data(e.account)
        if data.total_debt:
            if self.config.preset == "aave-v3":
                if data.health_factor < WAD:
                    raise Rejected(
                        f"health factor would fall to {fmt_health(data.health_factor)}, below 1"
                    )
            elif self._initial_shortfall(self.initial_account_data(e.account)):
                raise Rejected(
                    f"borrowing power would fall to {fmt_usd(data.initial_value)}, below the "
                    f"debt of {fmt_usd(data.total_debt)}"
                )
        return {"withdrawn": amount}

    def _borrow(self, e: Borrow) -> dict[str, Any]:
        self._existing(e.account)
        asset = self._market(e.asset)
        amount = self._positive(e.amount)
        market = self.config.markets[asset]
        if not market.borrowable:
            raise Rejected(f"{asset} is not borrowable")
        if self.config.preset == "compound-v3" and self.ledger.supply_of(e.account, asset):
            raise Rejected(
                f"{e.account} supplies {asset}; in compound-v3 the base balance is signed, "
                "so withdraw the supply before borrowing"
            )
        r = self.ledger.reserves[asset]
        cap = market.borrow_cap_units
        if cap and r.total_debt() + amount > cap:
            raise Rejected(
                f"borrow cap of {self._units(asset, cap)} would be exceeded "
                f"(total debt would be {self._units(asset, r.total_debt() + amount)})"
            )
        self._require_prices([asset, *self._account_assets(e.account)])
        before = self.account_data(e.account)
        if before.total_collateral == 0:
            raise Rejected(f"{e.account} has no collateral")
        if before.total_debt and before.health_factor < WAD:
            raise Rejected(
                f"health factor {fmt_health(before.health_factor)} is below 1; no new borrows"
            )
        try:
            self.ledger.borrow(e.account, asset, amount)
        except LedgerError as exc:
            raise Rejected(f"not enough liquidity: {exc}") from None
        after = self.account_data(e.account)
        initial = self.initial_account_data(e.account)
        if self._initial_shortfall(initial):
            raise Rejected(
                f"debt would rise to {fmt_usd(initial.total_debt)}, above the borrowing power "
                f"of {fmt_usd(initial.initial_value)}; health factor would be "
                f"{fmt_health(after.health_factor)}"
            )
        if self.has_perps(e.account):
            perp_handlers.check_initial(self, e.account)
        if self.config.compound is not None:
            minimum = int(self.config.compound.base_borrow_min * market.unit)
            debt = self.ledger.debt_of(e.account, asset)
            if debt < minimum:
                raise Rejected(
                    f"debt of {self._units(asset, debt)} would be below base_borrow_min "
                    f"{self._units(asset, minimum)}"
                )
        return {"borrowed": amount, "health_factor": after.health_factor}

    def _repay(self, e: Repay) -> dict[str, Any]:
        self._existing(e.account)
        asset = self._market(e.asset)
        amount = self._positive(e.amount)
        debt = self.ledger.debt_of(e.account, asset)
        if debt == 0:
            raise Rejected(f"{e.account} owes no {asset}")
        paid = min(amount, debt)
        self.ledger.repay(e.account, asset, paid)
        return {"repaid": paid}

    def _set_price(self, e: SetPrice) -> dict[str, Any]:
        asset = e.asset if e.asset in self.config.perps else self._market(e.asset)
        self._positive(e.price, "price")
        try:
            status = PriceStatus(e.status)
        except ValueError:
            raise Rejected(
                f"status: unknown price status {e.status!r} (one of "
                f"{', '.join(s.value for s in PriceStatus)})"
            ) from None
        oracle = self._oracle(asset).copy()
        transition = oracle.observe(self.ledger.time, e.price, status, e.reason)
        self._pending_oracles[asset] = oracle
        self._pending_prices.append((asset, e.price))
        details: dict[str, Any] = {"previous": self.prices.get(asset, 0)}
        if oracle.stable is not None:
            details["stable_price"] = oracle.stable.price
        if transition is not None:
            details["breaker"] = transition.as_dict()
        return details

    def _advance_time(self, e: AdvanceTime) -> dict[str, Any]:
        self._positive(e.seconds, "seconds")
        previous = self.ledger.time
        self.ledger.advance(e.seconds)
        details: dict[str, Any] = {"time": self.ledger.time}
        funding = perp_handlers.accrue_funding(self, previous)
        if funding:
            details["funding"] = funding
        transitions = []
        for asset in sorted(self.oracles):
            if self.oracles[asset].breaker is None:
                continue
            oracle = self.oracles[asset].copy()
            transition = oracle.tick(self.ledger.time)
            if transition is not None:
                self._pending_oracles[asset] = oracle
                transitions.append(transition.as_dict())
        if transitions:
            details["breaker"] = transitions
        return details

    def _liquidate(self, e: Liquidate) -> dict[str, Any]:
        if self.config.auction is not None:
            raise Rejected("this protocol liquidates by auction: use Bark")
        if self.config.preset != "aave-v3":
            raise Rejected(f"{self.config.preset} liquidates by Absorb, not Liquidate")
        self._account_id(e.liquidator, "liquidator")
        self._existing(e.account)
        if e.liquidator == e.account:
            raise Rejected("an account cannot liquidate itself")
        debt_asset = self._market(e.debt_asset, "debt_asset")
        coll_asset = self._market(e.collateral_asset, "collateral_asset")
        self._positive(e.debt_to_cover, "debt_to_cover")
        self._require_prices([debt_asset, coll_asset, *self._account_assets(e.account)],
                             for_liquidation=True)
        if not self.ledger.uses_as_collateral(e.account, coll_asset):
            raise Rejected(f"{e.account} does not use {coll_asset} as collateral")
        data = self.account_data(e.account)
        inputs = self._close_factor_inputs(e.account, data, debt_asset, coll_asset)
        try:
            plan = plan_liquidation(inputs, e.debt_to_cover, self.config.aave)
        except LiquidationRefused as refusal:
            raise Rejected(refusal.reason) from None
        return self._execute_liquidation(e, plan, data)

    def _close_factor_inputs(self, account_id: str, data: AccountData, debt_asset: str,
                             coll_asset: str) -> CloseFactorInputs:
        debt_market = self.config.markets[debt_asset]
        coll_market = self.config.markets[coll_asset]
        return CloseFactorInputs(
            health_factor=data.health_factor,
            total_debt_base=data.total_debt,
            total_collateral_base=data.total_collateral,
            debt_balance=self.ledger.debt_of(account_id, debt_asset),
            collateral_balance=self.ledger.supply_of(account_id, coll_asset),
            debt_price=self._price(debt_asset),
            debt_unit=debt_market.unit,
            collateral_price=self._price(coll_asset),
            collateral_unit=coll_market.unit,
            liquidation_bonus_bps=coll_market.liquidation_bonus_bps,
            protocol_fee_bps=coll_market.liquidation_protocol_fee_bps,
        )

    def _execute_liquidation(self, e: Liquidate, plan: CloseFactorPlan,
                             before: AccountData) -> dict[str, Any]:
        ledger = self.ledger
        deficit: dict[str, int] = {}
        ledger.repay(e.account, e.debt_asset, plan.debt_repaid)
        if e.receive_supply:
            ledger.transfer_supply(e.account, e.liquidator, e.collateral_asset,
                                   plan.collateral_to_liquidator)
        else:
            try:
                ledger.pay_out_supply(e.account, e.collateral_asset,
                                      plan.collateral_to_liquidator)
            except LedgerError as exc:
                raise Rejected(
                    f"not enough liquidity to pay out the collateral ({exc}); "
                    "liquidate with receive_supply"
                ) from None
        # As Aave v3.3: the liquidator first, then the fee, clamped to the balance left
        # (burning the fee first, rounded up, can leave the account one unit short of the
        # liquidator's share when the whole balance is seized).
        fee = min(plan.protocol_fee, ledger.supply_of(e.account, e.collateral_asset))
        if plan.protocol_fee:
            ledger.supply_to_treasury(e.account, e.collateral_asset, fee)
        if plan.takes_all_collateral:
            # Aave v3.3: no collateral left, so every remaining debt becomes deficit.
            account = ledger.accounts.get(e.account)
            for asset in sorted(account.lending if account else ()):
                if ledger.debt_of(e.account, asset):
                    deficit[asset] = ledger.write_off_debt(e.account, asset)
        after = self.account_data(e.account)
        return {
            "debt_repaid": plan.debt_repaid,
            "collateral_to_liquidator": plan.collateral_to_liquidator,
            "protocol_fee": fee,
            "close_factor_bps": plan.close_factor_bps,
            "health_before": before.health_factor,
            "health_after": after.health_factor,
            "deficit": deficit,
        }

    def _absorb(self, e: Absorb) -> dict[str, Any]:
        if self.config.compound is None:
            raise Rejected(f"{self.config.preset} liquidates by Liquidate, not Absorb")
        self._account_id(e.absorber, "absorber")
        self._existing(e.account)
        base = self.config.compound.base_asset
        self._require_prices([base, *self._account_assets(e.account)], for_liquidation=True)
        base_price = self._price(base)
        data = self.account_data(e.account)
        if not self.is_liquidatable(e.account):
            raise Rejected(
                f"{e.account} is not liquidatable: collateral at liquidate factors "
                f"{fmt_usd(data.maintenance_value)} covers the debt {fmt_usd(data.total_debt)}"
            )
        account = self.ledger.accounts[e.account]
        collateral = [
            (asset, self.ledger.supply_of(e.account, asset), self.prices[asset],
             self.config.markets[asset].unit,
             int(self.config.markets[asset].liquidation_factor * 10_000))
            for asset in sorted(account.lending)
            if asset != base and self.ledger.supply_of(e.account, asset)
        ]
        debt = self.ledger.debt_of(e.account, base)
        plan = plan_absorb(debt, base_price, self.config.markets[base].unit, collateral)
        for seized in plan.seized:
            self.ledger.seize_supply(e.account, seized.asset)
        self.ledger.absorb_debt(e.account, base)
        if plan.new_balance:
            self.ledger.credit_supply(e.account, base, plan.new_balance)
        if plan.bad_debt:
            self.ledger.record_bad_debt(base, plan.bad_debt)
        return {
            "debt_absorbed": debt,
            "seized": {s.asset: s.amount for s in plan.seized},
            "credit": plan.new_balance - plan.old_balance,
            "new_balance": plan.new_balance,
            "bad_debt": plan.bad_debt,
        }

    def _buy_collateral(self, e: BuyCollateral) -> dict[str, Any]:
        if self.config.compound is None:
            raise Rejected(f"{self.config.preset} has no BuyCollateral")
        self._account_id(e.buyer, "buyer")
        rules = self.config.compound
        base = rules.base_asset
        asset = self._market(e.asset)
        if asset == base or not self.config.markets[asset].collateral:
            raise Rejected(f"{asset} is not a collateral asset")
        self._positive(e.base_amount, "base_amount")
        self._require_prices([base, asset], for_liquidation=True)
        if e.min_amount < 0:
            raise Rejected(f"min_amount: must not be negative (got {e.min_amount})")
        reserves = self.ledger.reserves[base].reserves
        target = int(rules.target_reserves * self.config.markets[base].unit)
        if reserves >= target:
            raise Rejected(
                f"reserves {self._units(base, reserves)} are at or above the target "
                f"{self._units(base, target)}: collateral is not for sale"
            )
        market = self.config.markets[asset]
        quantity = quote_collateral(
            e.base_amount, self._price(base), self.config.markets[base].unit,
            self._price(asset), market.unit, int(market.liquidation_factor * 10_000),
            int(rules.store_front_price_factor * 10_000),
        )
        if quantity < e.min_amount:
            raise Rejected(
                f"would buy {self._units(asset, quantity)}, below min_amount "
                f"{self._units(asset, e.min_amount)}"
            )
        available = self.ledger.reserves[asset].reserves_ray // RAY
        if quantity > available:
            raise Rejected(
                f"the protocol holds only {self._units(asset, max(available, 0))} of seized "
                f"{asset}"
            )
        self.ledger.sell_from_reserves(asset, quantity, base, e.base_amount)
        return {"collateral_bought": quantity, "base_paid": e.base_amount}

    # ------------------------------------------------------------------ keepers
    def liquidation_quote(self, account_id: str) -> LiquidationQuote:
        """The largest liquidation allowed now: its largest debt against its largest
        collateral (Aave), or an absorb (Compound III)."""
        data = self.account_data(account_id)
        account = self.ledger.accounts.get(account_id)
        assets = sorted(account.lending) if account else []
        if self.config.compound is not None:
            base = self.config.compound.base_asset
            if not self.is_liquidatable(account_id):
                return LiquidationQuote(account_id, base, "", None, None, "not liquidatable")
            collateral = [
                (a, self.ledger.supply_of(account_id, a), self.prices[a],
                 self.config.markets[a].unit,
                 int(self.config.markets[a].liquidation_factor * 10_000))
                for a in assets if a != base and self.ledger.supply_of(account_id, a)
            ]
            absorb = plan_absorb(self.ledger.debt_of(account_id, base), self.prices[base],
                                 self.config.markets[base].unit, collateral)
            return LiquidationQuote(account_id, base, "*", None, absorb, None)
        debts = [(value_of(self.ledger.debt_of(account_id, a), self.prices[a],
                           self.config.markets[a].unit, Rounding.UP), a)
                 for a in assets if self.ledger.debt_of(account_id, a)]
        colls = [(value_of(self.ledger.supply_of(account_id, a), self.prices[a],
                           self.config.markets[a].unit, Rounding.DOWN), a)
                 for a in assets
                 if self.ledger.supply_of(account_id, a)
                 and self.ledger.uses_as_collateral(account_id, a)]
        if not debts or not colls:
            return LiquidationQuote(account_id, "", "", None, None, "no debt or no collateral")
        debt_asset = max(debts)[1]
        coll_asset = max(colls)[1]
        inputs = self._close_factor_inputs(account_id, data, debt_asset, coll_asset)
        # Offer the whole debt; if the close factor's cap would leave dust, offer instead
        # what leaves exactly the minimum leftover (v3.3 refuses the former, allows this).
        floor_units = -(-self.config.aave.min_leftover_base_units * inputs.debt_unit
                        // inputs.debt_price)
        refusal = ""
        for offer in (inputs.debt_balance, inputs.debt_balance - floor_units):
            if offer <= 0:
                break
            try:
                plan = plan_liquidation(inputs, offer, self.config.aave)
            except LiquidationRefused as refused:
                refusal = refusal or refused.reason
                continue
            return LiquidationQuote(account_id, debt_asset, coll_asset, plan, None, None, offer)
        return LiquidationQuote(account_id, debt_asset, coll_asset, None, None, refusal)

    def liquidation_plan(self, account_id: str, debt_asset: str, collateral_asset: str,
                         debt_to_cover: int) -> CloseFactorPlan | None:
        """What ``Liquidate(..., debt_to_cover)`` would do now (``None``: refused)."""
        if self.config.compound is not None or self.config.auction is not None:
            return None
        data = self.account_data(account_id)
        inputs = self._close_factor_inputs(account_id, data, debt_asset, collateral_asset)
        try:
            return plan_liquidation(inputs, debt_to_cover, self.config.aave)
        except LiquidationRefused:
            return None

    # ------------------------------------------------------------------ replay
    @classmethod
    def replay(cls, path: str | Path, verify: bool = True) -> tuple[Engine, ReplayReport]:
        """Rebuild an engine from a log, verifying it; stop at a torn tail and say so.

        Every record is verified by the store (chain, columns, acknowledged count; see
        docs/formats.md) before it is applied; damage raises :class:`LogError` naming the
        first bad event. With ``verify``, every replayed outcome must also equal the logged
        one (acceptance, outcome, event and details, and the refusal code where the log has
        one; refusal prose is compared only in format-2 logs without codes), or
        :class:`LogError` names the first event that diverges.
        """
        store = open_log(path)
        try:
            try:
                raw = json.loads(store.meta["protocol"])
                config = validate_model(ProtocolConfig, raw, source=f"{path} (meta.protocol)")
            except (KeyError, ValueError, ConfigError) as exc:
                raise LogError(f"{path}: the log has no readable protocol ({exc})") from None
            engine = cls(config)
            legacy = store.format_version == "1"
            for row in store.read():
                try:
                    event = event_from_dict(row.record["event"])
                except (MarginEngineError, KeyError, TypeError) as exc:
                    raise LogError(f"{path}: event {row.seq} is malformed: {exc}") from None
                outcome = engine.apply(event)
                if verify:
                    differ = _replay_differences(outcome, row, legacy)
                    if differ:
                        raise LogError(
                            f"{path}: replay diverged at event {row.seq}: logged {row.outcome}, "
                            f"replayed {outcome.name} ({', '.join(differ)} differ)"
                        )
            status = store.status()
        finally:
            store.close()
        return engine, ReplayReport(status.events, engine.state_hash(), status.truncated,
                                    status.note, status.format_version)


def _replay_differences(outcome: Outcome, row: LogRecord, legacy: bool) -> list[str]:
    """The fields in which a replayed outcome differs from the logged one.

    The fields the log holds are compared (a newer engine may record more), refusal codes
    and data included. Refusal prose is a message for people, not a contract: it is
    compared only in a format-2 log without refusal codes, never in format 1.
    """
    replayed = json.loads(encode(outcome.to_dict()))
    logged = row.record
    keys = {"seq", "outcome", "event", "accepted", "details"} | set(logged)
    if legacy or "code" in logged:
        keys.discard("reason")
    return sorted(k for k in keys if replayed.get(k) != logged.get(k))

__all__ = [
    "Change",
    "Engine",
    "LiquidationQuote",
    "Rejected",
    "ReplayReport",
    "fmt_health",
    "fmt_usd",
]
