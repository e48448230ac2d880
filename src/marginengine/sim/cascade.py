"""The liquidation-cascade simulator: the engine driven through a crash, step by step.

Order of work within a step (a block of ``step_seconds``):

1. **clock**: ``AdvanceTime`` (interest, funding, breaker cool-offs);
2. **exogenous price**: the collateral's external price of this step (the price process);
3. **venue**: arbitrage pulls the venue toward the external price (``arbitrage_speed``);
   a depth venue's book also refills (``resilience``);
4. **oracle**: the price the engine sees (direct, OSM one hop late, the venue's spot or
   TWAP, or a push feed) is published as ``SetPrice`` when the feed publishes;
5. **scan**: the risk book finds every liquidatable account (screen, then exact confirm);
6. **keepers**, in a seeded random order, each acting on what it has seen for at least its
   latency, when gas lets its transactions through and the action pays: liquidations,
   ``Bark``, ``Take``/``Redo``, ``Tend``/``Dent``/``Deal``/``Tick``;
7. **venue trades**: what keepers bought is sold on the venue at once (when ``feedback``
   is on; otherwise at the external price, which leaves the venue untouched).

Nothing here re-implements a rule: every decision is an engine event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig, protocol_from_dict, validate_model
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Change,
    Deal,
    Deposit,
    Engine,
    Event,
    ImportAccount,
    Outcome,
    SetPrice,
)
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_UNIT, RAY, WAD, parse_units
from marginengine.margin import underwater_value
from marginengine.scan import RiskBook
from marginengine.sim.actions import action_events, check_actions, resolve_actions
from marginengine.sim.agents import (
    Absorber,
    Agent,
    Arbitrageur,
    AuctionBidder,
    KeeperState,
    LendingKeeper,
    LendingScreen,
)
from marginengine.sim.book import synthetic_book
from marginengine.sim.cascade_config import (
    CascadeFile,
    GasSpec,
    OracleSpec,
    anchor_files,
    check_cascade,
    check_chains,
    joint_spec,
    protocol_scenario,
)
from marginengine.sim.explain import RunObserver, combine, explain
from marginengine.sim.joint import JointPaths, joint_paths
from marginengine.sim.markets import AssetMarket
from marginengine.sim.metrics import SERIES_COLUMNS, borrower_loss
from marginengine.sim.perps import PerpSim

SECONDS_PER_YEAR = 31_536_000


def _f(value: Any) -> float:
    return float(value)


# ---------------------------------------------------------------------- inputs
def price_path(spec: CascadeFile, rng: np.random.Generator,
               start: dict[str, float] | None = None) -> np.ndarray:
    """The external price at steps 0..n (floats, USD); for a replay, ``start["time"]``
    is set to the Unix time (UTC) of step 0 when ``start`` is given.

    A path that falls below one price unit (1e-8 USD, e.g. a crash to dust, or ``exp``
    underflowing to 0) is floored there, the price the engine sees (:func:`to_price`):
    what the keepers, the venue and the gas (its log returns) read agrees with it.

    Raises
    ------
    ConfigError
        When the process refuses its parameters (a path that leaves the float range).
    """
    try:
        path = _price_path(spec, rng, start)
    except (ValueError, OverflowError, FloatingPointError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError([f"price: {exc}"]) from None
    floored: np.ndarray = np.maximum(path, 1 / PRICE_UNIT)
    return floored


def _price_path(spec: CascadeFile, rng: np.random.Generator,
                start: dict[str, float] | None) -> np.ndarray:
    from marginengine.sim import processes as p

    ps = spec.price
    n = spec.steps
    dt = spec.step_seconds / SECONDS_PER_YEAR
    if ps.process == "replay":
        from marginengine.sim.history import load_replay

        # ps.file is made relative to the scenario file by anchor_files.
        series = load_replay(ps.file, ps.field, "price")
        times = np.asarray(series.times)
        # Only the run's n + 1 grid points are resampled (the whole grid of a long series
        # on short steps does not fit in memory); the window is drawn on the whole grid.
        size = p.grid_size(float(times[-1] - times[0]), spec.step_seconds)
        first = 0
        if ps.random_window and size > n + 1:
            first = int(rng.integers(0, size - n))
        grid, values = p.resample(times, np.asarray(series.values), spec.step_seconds,
                                  "previous", first=first, length=n + 1)
        if start is not None:
            start["time"] = float(grid[0])
        out = np.asarray(values, dtype=float)
        if out.size < n + 1:
            out = np.concatenate([out, np.full(n + 1 - out.size, out[-1])])
        path_values = out[: n + 1]
    elif ps.process == "path":
        if not ps.path:
            raise ConfigError(["price.path: a path process needs at least one price"])
        given = [float(x) for x in ps.path[: n + 1]]
        path_values = np.array(given + [given[-1]] * (n + 1 - len(given)))
    elif ps.process == "gbm":
        path_values = p.gbm(rng, _f(ps.s0), _f(ps.mu), _f(ps.sigma), dt, n)
    elif ps.process == "jump":
        path_values = p.jump_diffusion(rng, _f(ps.s0), _f(ps.mu), _f(ps.sigma),
                                       _f(ps.jump_intensity), _f(ps.jump_mean),
                                       _f(ps.jump_std), dt, n)
    elif ps.process == "ou":
        path_values = p.ornstein_uhlenbeck(rng, _f(ps.s0), _f(ps.s0), _f(ps.theta),
                                           _f(ps.sigma), dt, n, floor=1e-8)
    elif ps.process == "bridge":
        path_values = p.brownian_bridge(rng, _f(ps.s0), _f(ps.end), _f(ps.sigma), dt, n)
    else:  # crash: GBM with a k-sigma drop (daily horizon) at crash_at
        base = p.gbm(rng, _f(ps.s0), _f(ps.mu), _f(ps.sigma), dt, n)
        path_values = p.flash_crash(base, min(ps.crash_at, n), _f(ps.crash_k_sigma),
                                    _f(ps.sigma), 1 / 365)
    if ps.vol_scale != 1:
        path_values = p.scale_volatility(path_values, _f(ps.vol_scale))
    return np.asarray(path_values, dtype=float)


def gas_path(spec: CascadeFile, rng: np.random.Generator, prices: np.ndarray) -> np.ndarray:
    """Gas price (gwei) at steps 0..n."""
    from marginengine.sim import gas

    g = spec.gas
    n = spec.steps
    if g.kind == "constant":
        return np.full(n + 1, _f(g.gwei))
    if g.kind == "replay":
        from marginengine.sim.history import load_gas

        path = Path(g.file)  # made relative to the scenario file by anchor_files
        values = gas.gas_replay(load_gas(path, field=g.field), spec.step_seconds, n + 1)
        return np.asarray(values, dtype=float)
    returns = np.diff(np.log(prices))
    values = gas.gas_process(rng, _f(g.gwei), _f(g.vol_sensitivity), returns, _f(g.noise), n,
                             _f(g.cap_gwei) if g.cap_gwei is not None else None,
                             reference_sigma=_f(headline_sigma(spec)) * math.sqrt(
                                 spec.step_seconds / SECONDS_PER_YEAR) or None,
                             step_seconds=spec.step_seconds,
                             return_seconds=_f(g.return_seconds))
    return np.concatenate([[values[0]], np.asarray(values, dtype=float)])


def utc_iso(unix: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (``2020-03-12T00:00:00Z``), ``None`` for ``None``."""
    if unix is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def headline_sigma(spec: CascadeFile) -> Any:
    """The headline asset's yearly volatility (its own in the joint model)."""
    joint = spec.price.assets.get(spec.price.asset)
    return joint.sigma if joint is not None else spec.price.sigma


def to_price(value: float) -> int:
    """A float USD price to the engine's 8-decimal int (rounded to the nearest unit)."""
    return max(1, int(round(value * PRICE_UNIT)))  # noqa: RUF046 - numpy floats


# ---------------------------------------------------------------------- the run
@dataclass
class CascadeResult:
    """A run's summary, per-step series and engine."""

    summary: dict[str, Any]
    series: dict[str, list[float]]
    engine: Engine
    auctions: list[dict[str, Any]] = field(default_factory=list)
    twin_series: dict[str, list[float]] | None = None
    ltv_log: list[dict[str, Any]] = field(default_factory=list)
    #: Why the bad debt arose (sim/explain.py), when the run was asked to ``explain``.
    explanation: dict[str, Any] | None = None


class CascadeRunner:
    """Drives one cascade scenario through an engine (see the module docstring)."""

    def __init__(self, spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
                 feedback: bool | None = None, log_path: Path | None = None,
                 shared: CascadeRunner | None = None) -> None:
        """``shared``: a runner whose price paths, gas and venues this one uses (a further
        protocol of the same scenario: :mod:`marginengine.sim.protocols`); its own
        oracles read them, and ``rng`` then draws only its book and keeper order."""
        self.spec = spec
        self.protocol = protocol
        self.rng = rng
        #: The generator's starting state: a further chain's gas is drawn from a generator
        #: of its own seeded by it (:meth:`chain_gas`).
        self._start_state = rng.bit_generator.state
        self.feedback = spec.venue.feedback if feedback is None else feedback
        self.engine = Engine.with_log(protocol, log_path) if log_path else Engine(protocol)
        self.collateral = spec.price.asset
        #: A book of several assets (profiles, a file or a snapshot): venues quote USD.
        self.multi = spec.book.multi()
        self.debt = spec.book.debt_asset
        if self.collateral not in protocol.markets or (
                not self.multi and self.debt not in protocol.markets):
            raise ConfigError([f"price.asset / book.debt_asset: {self.collateral!r} and "
                               f"{self.debt!r} must both be markets of the protocol"])
        self.coll_unit = protocol.markets[self.collateral].unit
        self.debt_unit = venue_quote_unit(spec, protocol)
        #: Exact oracle prices per simulated asset and step (sim/joint.fix_price).
        self.fixed: dict[str, list[int]]
        self.paths: JointPaths
        if shared is not None:
            self.paths, self.fixed = shared.paths, shared.fixed
        elif spec.price.assets:
            self.paths = joint_paths(joint_spec(spec.price), rng, spec.steps,
                                     spec.step_seconds)
            self.fixed = self.paths.fixed()
        else:
            start: dict[str, float] = {}
            path = price_path(spec, rng, start)
            self.paths = JointPaths((self.collateral,), path[:, None], start.get("time"))
            self.fixed = {self.collateral: [to_price(x) for x in path]}
        self.prices = self.paths.path(self.collateral)
        #: Unix time (UTC) of step 0 for a replayed price, else ``None``.
        self.start_time: float | None = self.paths.start_time
        #: Gas (gwei) per step of the chain the protocol is on (``spec.gas.chain``).
        self.gas: np.ndarray = shared.chain_gas(spec.gas) if shared is not None else \
            gas_path(spec, rng, self.prices)
        self._chain_gas: dict[str, np.ndarray] = {spec.gas.chain: self.gas}
        self.keepers = [KeeperState(k, _f(k.capital)) for k in spec.keepers]
        #: The keepers as agents of the protocol's mechanism, in the keepers' order.
        self.agents: list[Agent] = [self._agent_for(k) for k in self.keepers]
        self._screen: LendingScreen | None = None
        self._step = 0
        self._scan_seq: int | None = None
        #: Whether every step's row of :attr:`series` is recorded (``False``: only what
        #: the summary reads, for runs that keep no traces: Monte Carlo, sweeps).
        self.record_series = True
        self._venue_low_usd = math.inf
        #: Accounts an event touched since the last scan (their mirror may lag).
        self._touched_since_scan: set[str] = set()
        # At apply (the engine's current state within a step's batch), as the book.
        self.engine.subscribe(self._on_change, when="apply")
        #: Records what the report's explanation needs (sim/explain.py), when one is
        #: written; ``None`` otherwise (the run pays nothing for it).
        self.observer: RunObserver | None = None
        self.arbitrageur = Arbitrageur(self.fixed)
        self.series: dict[str, list[float]] = {c.name: [] for c in SERIES_COLUMNS}
        self.liquidated_value = 0.0
        self.liquidation_count = 0
        #: Borrower loss (sim/metrics.py), base-currency units (8 decimals), exact.
        self.borrower_loss_base = 0
        #: Auction id -> (oracle price at settlement, borrower loss), base units.
        self.auction_losses: dict[int, tuple[int, int]] = {}
        self.unsafe_since: dict[str, int] = {}
        self.ltv_log: list[dict[str, Any]] = []
        self.time_to_liquidate: list[int] = []
        #: The explicit ``[[actions]]`` by step, as engine events (sim/actions.py), and
        #: those the engine refused.
        self.actions = action_events(spec.actions, protocol)
        self.steps_advanced = 0
        self.rejected_actions: list[Outcome] = []
        #: The book's accounts that opened above borrowing power / below health 1, at the
        #: step-0 prices (0 when opened by borrows; see ``[book] open``).
        self.opened_above_borrowing_power = 0
        self.opened_below_health_1 = 0
        #: Every simulated asset's venue and oracle (sim/markets.py); the headline
        #: asset's come from [venue] and [oracle] unless [venues.X] / [oracles.X] say.
        self.markets: dict[str, AssetMarket] = {}
        for asset in self.paths.assets:
            main = asset == self.collateral
            venue = spec.venues.get(asset, spec.venue if main else None)
            oracle = spec.oracles.get(asset, spec.oracle if main else OracleSpec())
            self.markets[asset] = AssetMarket(asset, venue, oracle, self.fixed[asset][0],
                                              protocol.markets[asset].unit, self.debt_unit)
            if shared is not None:
                self.markets[asset].share_venue(shared.markets[asset])
        self.market = self.markets[self.collateral]
        #: The simulated assets besides the headline one: three more series columns each
        #: (``external_price_usd.X``, ``venue_price_usd.X``, ``oracle_price_usd.X``).
        self.other_assets = [a for a in self.paths.assets if a != self.collateral]
        for asset in self.other_assets:
            for column in ("external_price_usd", "venue_price_usd", "oracle_price_usd"):
                self.series[f"{column}.{asset}"] = []
        self.venue_lows = {a: m.venue_price() for a, m in self.markets.items()}
        #: The perp venue (``[perps]``, sim/perps.py), or ``None``.
        self.perps = _perp_sim(self)

    def chain_gas(self, gas: GasSpec) -> np.ndarray:
        """The gas (gwei, steps 0..n) of chain ``gas.chain`` on this runner's paths: its own
        for its own chain, else drawn once per chain from a generator of the chain's own
        (:func:`~marginengine.sim.protocols.chain_rng`), so a further chain draws nothing
        from the run's stream and the default chain's gas is what it is alone."""
        from marginengine.sim.protocols import chain_rng

        if gas.chain not in self._chain_gas:
            view = self.spec.model_copy(update={"gas": gas})
            self._chain_gas[gas.chain] = gas_path(
                view, chain_rng(self._start_state, gas.chain), self.prices)
        return self._chain_gas[gas.chain]

    # ------------------------------------------------------------------ set-up
    def venue_price(self) -> int:
        """The headline asset's venue mid price (8 decimals)."""
        return self.market.venue_price()

    def apply(self, event: Event) -> Outcome:
        """Apply an event to the engine."""
        return self.engine.apply(event)

    def setup(self) -> None:
        """Prices, the lender, the book of borrowers."""
        spec = self.spec
        for asset in sorted(self.protocol.markets):
            if asset in self.markets:
                price = self.fixed[asset][0]
            else:
                price = parse_units(spec.prices.get(asset, 1), 8)
            self.apply(SetPrice(asset, price))
        total_debt = _f(spec.book.total_debt)
        if self.multi:
            self._open_multi_book()
            self._open_extra_accounts()
            return
        liquidity = {self.debt: total_debt * 2, **{k: _f(v)
                                                   for k, v in spec.liquidity.items()}}
        for asset, amount in sorted(liquidity.items()):
            self.apply(Deposit("lender", asset,
                               int(amount * self.protocol.markets[asset].unit)))
        b = spec.book
        book = synthetic_book(self.rng, b.accounts, total_debt, b.whales, _f(b.whale_share),
                              _f(b.collateralization_median),
                              _f(b.collateralization_sigma), _f(b.min_collateralization)
                              ) if b.accounts else []
        self.rejected_setup = 0
        s0 = self.prices[0]
        for acct in book:
            coll = int(acct.collateral_usd / s0 * self.coll_unit)
            debt = int(acct.debt_usd * self.debt_unit)
            if b.open == "import":
                # As it stands: the same balances, no margin check (only a structural
                # problem, such as a collateral rounded to 0 with no debt, is refused).
                imported = ImportAccount(acct.id, ((self.collateral, coll),) if coll else (),
                                         ((self.debt, debt),) if debt else ())
                if not self.apply(imported).accepted:
                    self.rejected_setup += 1
                continue
            self.apply(Deposit(acct.id, self.collateral, coll))
            if not self.apply(Borrow(acct.id, self.debt, debt)).accepted:
                self.rejected_setup += 1
        self._count_opened([acct.id for acct in book])
        self._open_extra_accounts()
        self.start_debt_value = total_debt if b.accounts else 0.0

    def _count_opened(self, accounts: list[str]) -> None:
        """The book's accounts that opened above borrowing power and below health 1 (at
        the step-0 prices: :func:`marginengine.sim.books.opened_under_margin`). Only for
        a book imported as it stands: opened by borrows, initial margin admitted each one
        at these prices, so both are 0 and reading every account again (a tenth of the
        set-up's time) would only say so."""
        if self.spec.book.open != "import":
            return
        from marginengine.sim.books import opened_under_margin

        self.opened_above_borrowing_power, self.opened_below_health_1 = \
            opened_under_margin(self.engine, accounts)

    def _open_extra_accounts(self) -> None:
        """The explicit ``[[accounts]]``, then the list of borrowers and the risk book."""
        for extra in self.spec.accounts:
            for asset, whole in extra.deposit.items():
                self.apply(Deposit(extra.id, asset, parse_units(
                    whole, self.protocol.markets[asset].decimals)))
            for asset, whole in extra.borrow.items():
                if not self.apply(Borrow(extra.id, asset, parse_units(
                        whole, self.protocol.markets[asset].decimals))).accepted:
                    self.rejected_setup += 1
        perp_accounts: set[str] = set()
        if self.perps is not None:
            self.perps.setup()
            perp_accounts = self.perps.accounts
        self.borrowers = sorted(a for a in self.engine.ledger.accounts
                                if a != "lender" and a not in perp_accounts)
        self.book = RiskBook.from_engine(self.engine)

    def _open_multi_book(self) -> None:
        """A book of several assets (sim/books.py): drawn from the profiles, or read from a
        file or a snapshot. A read book's accounts are opened through the engine's events,
        and any the protocol refuses stops the run before it starts, each by line."""
        from marginengine.config import read_toml
        from marginengine.sim.books import (
            book_from_snapshot,
            open_book,
            read_book,
            synthetic_multi_book,
        )

        spec, protocol = self.spec, self.protocol
        b = spec.book
        prices = {a: self.engine.prices[a] for a in protocol.markets}
        if b.file:
            book = read_book(protocol, b.file)
        elif b.snapshot:
            book = book_from_snapshot(read_toml(b.snapshot), protocol, source=b.snapshot)
            held = [a for a in book.accounts if a.positions or a.quote]
            if held:
                raise ConfigError([f"{held[0].where}.positions: a lending book's snapshot "
                                   "holds no perp positions; give them as a perp book "
                                   "([perps.book] file, account,market,size,entry_price,"
                                   "quote)"])
        else:
            if b.profile_basis == "collateralization":
                book = synthetic_multi_book(
                    self.rng, protocol, prices, b.profiles, b.accounts, _f(b.total_debt),
                    b.whales, _f(b.whale_share), _f(b.collateralization_median),
                    _f(b.collateralization_sigma), _f(b.min_collateralization),
                    basis="collateralization")
            else:
                book = synthetic_multi_book(
                    self.rng, protocol, prices, b.profiles, b.accounts, _f(b.total_debt),
                    b.whales, _f(b.whale_share), _f(b.health_median), _f(b.health_sigma),
                    _f(b.min_health) if b.min_health is not None else None)
        priced = set(self.markets) | set(spec.prices)
        unpriced = sorted(book.assets() - priced)
        if unpriced:
            source = b.file or b.snapshot or "book.profiles"
            raise ConfigError([f"prices.{a}: missing ({source} holds {a}; give its price "
                               "in [prices] or simulate it in [price.assets])"
                               for a in unpriced])
        # Lenders: twice what the book owes, unless [liquidity] says (whole tokens).
        liquidity = {a: 2 * amount for a, amount in book.borrowed_total().items()}
        for asset, whole in spec.liquidity.items():
            liquidity[asset] = parse_units(whole, protocol.markets[asset].decimals)
        for asset, amount in sorted(liquidity.items()):
            if amount > 0:
                self.apply(Deposit("lender", asset, amount))
        refused = open_book(self.apply, book, protocol, how=b.open)
        if refused and (b.file or b.snapshot):
            why = ("the account cannot be imported as it stands" if b.open == "import" else
                   "the protocol would not have allowed this position at the scenario's "
                   "step-0 prices")
            raise ConfigError([f"{r} ({why})" for r in refused[:20]]
                              + ([f"... and {len(refused) - 20} more"]
                                 if len(refused) > 20 else []))
        self.rejected_setup = len(refused)
        self._count_opened([acct.id for acct in book.accounts])
        self.start_debt_value = book.debt_value(prices, protocol)

    # ------------------------------------------------------------------ one step
    def step(self, i: int) -> None:
        """Run step ``i`` (1-based over the path): :meth:`advance`, :meth:`move_markets`,
        :meth:`act`."""
        self.advance()
        self.move_markets(i)
        self.act(i)

    def advance(self) -> None:
        """The clock: ``AdvanceTime`` by a step; then the step's explicit actions."""
        self.apply(AdvanceTime(self.spec.step_seconds))
        self.steps_advanced += 1
        for event in self.actions.get(self.steps_advanced, ()):
            outcome = self.apply(event)
            if not outcome.accepted:
                self.rejected_actions.append(outcome)

    def move_markets(self, i: int) -> None:
        """Every simulated asset's external price of step ``i``: the arbitrageur
        (:mod:`marginengine.sim.agents.arbitrageur`) pulls its venue toward it (a shared
        venue is moved by its owner only)."""
        self.arbitrageur.act(self, i, ())

    def act(self, i: int) -> None:
        """The rest of step ``i``: oracles publish, the scan, the keepers, the record."""
        engine = self.engine
        now = engine.ledger.time
        for asset, market in self.markets.items():
            oracle = market.oracle_price(now)
            if oracle is not None:
                self.apply(SetPrice(asset, oracle))
        if self.perps is not None:
            self.perps.publish(i, now)
        external = self.fixed[self.collateral][i]
        scan = self.book.incremental_scan()
        self._touched_since_scan.clear()
        # The scan's below set is the engine's rule now (threshold 1, no band left
        # undecided): keepers may take it as such until the next event (LendingScreen).
        self._scan_seq = engine.seq if scan.threshold == 1 and not len(scan.unconfirmed) \
            else None
        unsafe = self.book.below_accounts()
        perp_unsafe: list[str] = []
        if self.perps is not None:
            unsafe, perp_unsafe = self.perps.split(unsafe)
        for account in unsafe:
            self.unsafe_since.setdefault(account, i)
        if self.observer is not None:
            self.observer.scanned(i, unsafe)
        before_count = self.liquidation_count
        before_value = self.liquidated_value
        self._step = i
        order = self.rng.permutation(len(self.keepers))
        for k in order.tolist():
            keeper = self.keepers[k]
            if keeper.spec.max_gas_gwei is not None and self.gas[i] > float(
                    keeper.spec.max_gas_gwei):
                continue  # its transactions are not mined at this gas price
            self.agents[k].act(self, i, unsafe)
        if self.perps is not None:
            self.perps.act(i, perp_unsafe)
        self.settle_finished_auctions(i)
        self._record(i, now, external, len(unsafe), self.liquidation_count - before_count,
                     self.liquidated_value - before_value)

    # ------------------------------------------------------------------ keepers
    def _agent_for(self, keeper: KeeperState) -> Agent:
        """The agent a keeper is under the protocol's liquidation mechanism."""
        mechanism = self.engine.rules.liquidation
        if mechanism is LiquidationMechanism.AUCTION:
            return AuctionBidder(keeper)
        if mechanism is LiquidationMechanism.ABSORB:
            return Absorber(keeper)
        return LendingKeeper(keeper)

    def lending_screen(self) -> LendingScreen:
        """The step's shared screen of the accounts keepers could liquidate, bounded once
        per step (see :mod:`marginengine.sim.agents.lending_keeper`)."""
        if self._screen is None:
            self._screen = LendingScreen(self.engine, self.book)
        if self._screen.step != self._step:
            self._screen.begin(self._step, self.venue_mids(), self._scan_seq)
        return self._screen

    def venue_mids(self) -> dict[str, int]:
        """The mid of every venue sales trade on, per asset (8 decimals)."""
        return {a: m.venue_price() for a, m in self.markets.items()
                if self.trades_on_venue(m)}

    @property
    def exact_plans(self) -> int:
        """Exact liquidation plans the keepers have computed (each ``Liquidate`` counted
        once more, for the handler's own plan)."""
        return self._screen.exact_plans if self._screen is not None else 0

    def gas_usd(self, action: str, i: int) -> float:
        used = self.spec.gas.gas_used.get(action, 200_000)
        return float(used * self.gas[i] * 1e-9 * self.prices[i])

    def gas_wei(self, action: str, i: int) -> tuple[int, int]:
        """The gas one ``action`` uses and the step's gas price in wei per gas (the
        gwei series, rounded to whole wei): what Comet's ``approxSpend`` multiplies."""
        return (self.spec.gas.gas_used.get(action, 200_000),
                round(float(self.gas[i]) * 10**9))

    def trades_on_venue(self, market: AssetMarket) -> bool:
        """Whether sales of the asset trade on its venue (feedback on, and a venue)."""
        return self.feedback and market.has_venue and (
            market.venue is None or market.venue.feedback)

    def sell(self, amount: int, i: int, asset: str | None = None) -> float:
        """Sell ``amount`` of a simulated asset (default: the headline one); return USD
        received (its venue, or its external price)."""
        if amount <= 0:
            return 0.0
        market = self.markets[asset or self.collateral]
        if self.trades_on_venue(market):
            return market.sell(amount) / market.quote_unit
        return float(amount / market.base_unit * self.paths.path(market.asset)[i])

    def sale_value(self, amount: int, i: int, asset: str | None = None) -> float:
        """What selling ``amount`` now would fetch (without selling)."""
        if amount <= 0:
            return 0.0
        market = self.markets[asset or self.collateral]
        if self.trades_on_venue(market):
            return market.quote_out(amount) / market.quote_unit
        return float(amount / market.base_unit * self.paths.path(market.asset)[i])

    def buy(self, amount: int, i: int, asset: str | None = None) -> float:
        """Buy ``amount`` of a simulated asset (default: the headline one); return USD
        paid (its venue, or its external price)."""
        if amount <= 0:
            return 0.0
        market = self.markets[asset or self.collateral]
        if self.trades_on_venue(market):
            return market.buy(amount) / market.quote_unit
        return float(amount / market.base_unit * self.paths.path(market.asset)[i])

    def buy_cost(self, amount: int, i: int, asset: str | None = None) -> float:
        """What buying ``amount`` now would cost (without buying)."""
        if amount <= 0:
            return 0.0
        market = self.markets[asset or self.collateral]
        if self.trades_on_venue(market):
            return market.buy_cost(amount) / market.quote_unit
        return float(amount / market.base_unit * self.paths.path(market.asset)[i])

    def seized_value(self, amount: int, asset: str, i: int) -> float:
        """USD a keeper would get for seized collateral: the venue of a simulated asset,
        the oracle price for others."""
        if asset in self.markets:
            return self.sale_value(amount, i, asset)
        return float(amount / self.protocol.markets[asset].unit * self.engine.prices[asset]
                     / PRICE_UNIT)

    def sale_price_cap(self, asset: str, i: int) -> int:
        """No sale of ``asset`` at step ``i`` fetches more than this per whole token (8
        decimals): a venue's mid before the sale (selling walks it down; +1 for its
        rounding), the external price without one, the oracle's for other assets."""
        market = self.markets.get(asset)
        if market is None:
            return int(self.engine.prices[asset])
        if self.trades_on_venue(market):
            return market.venue_price() + 1
        external = float(self.paths.path(asset)[i]) * PRICE_UNIT * (1 + 1e-12)
        return int(external) + 2  # at least its ceiling, plus one

    def ltv(self, account: str) -> float:
        """Debt over collateral value at the engine's prices (inf when no collateral left)."""
        data = self.engine.account_data(account)
        if data.total_collateral == 0:
            return math.inf if data.total_debt else 0.0
        return data.total_debt / data.total_collateral

    def count_liquidation(self, account: str, i: int, value: float, loss: int) -> None:
        """Count a liquidation (or an auction start) of ``value`` USD of debt; ``loss`` is
        its borrower loss in base units (an auction's is counted when it settles)."""
        self.liquidation_count += 1
        self.liquidated_value += value
        self.borrower_loss_base += loss
        since = self.unsafe_since.pop(account, i)
        self.time_to_liquidate.append(i - since)

    def deal(self, auction: int, i: int) -> None:
        """Settle a finished English auction; its winner sells the lot."""
        outcome = self.apply(Deal(auction))
        if not outcome.accepted:
            return
        self.auction_settled()
        winner = next((k for k in self.keepers if k.spec.id == outcome.details["winner"]),
                      None)
        proceeds = self.sell(outcome.details["lot"], i)
        if winner is not None:
            paid = outcome.details["bid"] / RAY / WAD
            winner.capital += proceeds - paid
            winner.profit += proceeds - paid

    def auction_settled(self) -> None:
        """Count the borrower loss of the auction that has just settled (the last outcome):
        the collateral sold less the debt taken at ``Bark``, at the oracle price now."""
        house = self.engine.auctions
        assert house is not None and house.outcomes
        done = house.outcomes[-1]
        cfg = house.config
        markets = self.protocol.markets
        price = self.engine.prices[cfg.collateral]
        loss = borrower_loss(done.lot_sold, price, markets[cfg.collateral].unit,
                             done.debt, self.engine.prices[cfg.debt], markets[cfg.debt].unit)
        self.auction_losses[done.id] = (price, loss)
        self.borrower_loss_base += loss

    def settle_finished_auctions(self, i: int) -> None:
        """Deal what ended (any keeper would; the runner does it so the lot is sold)."""
        house = self.engine.auctions
        if house is None or house.flipper is None:
            return
        now = self.engine.ledger.time
        for auction, bid in sorted(house.flipper.bids.items()):
            if bid.tic != 0 and (bid.tic < now or bid.end < now):
                self.deal(auction, i)

    # ------------------------------------------------------------------ metrics
    def in_auctions_uncovered(self) -> float:
        """Debt of running auctions their lots would not cover at the external price (USD)."""
        house = self.engine.auctions
        if house is None:
            return 0.0
        price = float(self.prices[min(self.engine.ledger.time // self.spec.step_seconds,
                                      self.spec.steps)])
        lots: dict[int, int] = {}
        if house.clipper is not None:
            lots = {i: s.lot for i, s in house.clipper.active.items()}
        elif house.flipper is not None:
            lots = {i: b.lot for i, b in house.flipper.bids.items()}
        return float(sum(max(0.0, r.debt / WAD - r.raised / WAD - lots.get(i, 0) / WAD * price)
                         for i, r in house.records.items()))

    def bad_debt_parts(self) -> tuple[float, float, float]:
        """``(realized, in auctions, underwater)`` USD: recognised bad debt, debt of running
        auctions their lots would not cover, and debt above collateral of the accounts
        below the threshold at the last scan (valued now)."""
        engine = self.engine
        realized = engine.bad_debt_value() / PRICE_UNIT
        # Underwater value exactly, by the one rule (margin.underwater_value), for the
        # accounts the screen put below the threshold: an account above it has collateral
        # beyond its debt and contributes nothing. The risk book's float figures, widened
        # by their proven error, clear most of them first (collateral surely above debt);
        # an account an event touched since the scan is read exactly whatever its mirror
        # says.
        underwater = sum(underwater_value(engine.account_data(a))
                         for a in self._maybe_underwater())
        return float(realized), self.in_auctions_uncovered(), underwater / PRICE_UNIT

    def _maybe_underwater(self) -> list[str]:
        """Accounts below the threshold at the last scan that may be underwater now."""
        book = self.book
        rows = book.below_rows()
        if not len(rows):
            return []
        _, debt = book.sums(rows)
        raw = book.collateral.subset_sums(rows, book.assets.weights().raw_collateral)
        b = book.bounds(1.0)
        eps = 2 * b.eps + 1e-9
        slack = 4 * (b.abs_coll + b.abs_debt) + 1.0
        maybe = raw * (1 - eps) - slack < debt * (1 + eps) + slack
        ids = book.accounts.ids(rows[maybe])
        if self._touched_since_scan:
            below = set(book.accounts.ids(rows))
            ids.extend(a for a in self._touched_since_scan if a in below)
        return sorted(set(ids))

    def _on_change(self, change: Change) -> None:
        self._touched_since_scan.update(change.accounts)

    def bad_debt(self) -> float:
        """The headline bad debt (USD): realized + in auctions + underwater."""
        return float(sum(self.bad_debt_parts()))

    def _record(self, i: int, now: int, external: int, liquidatable: int, liquidations: int,
                value: float) -> None:
        """Append step ``i``'s row (see :data:`marginengine.sim.metrics.SERIES_COLUMNS`)."""
        s = self.series
        for asset, market in self.markets.items():
            self.venue_lows[asset] = min(self.venue_lows[asset], market.venue_price())
        if not self.record_series:
            # Only what the summary reads from the series: the headline venue's low.
            self._venue_low_usd = min(self._venue_low_usd, self.venue_price() / PRICE_UNIT)
            return
        # No rescan needed for the end-of-step bad debt: the price does not move after the
        # step's scan and keepers only touch accounts it found below the threshold, whose
        # values are read as they are now.
        # Only the two quantiles the row holds (the same values as health_distribution's).
        p05, p50 = self.book.health_quantiles((0.05, 0.5))
        realized, in_auctions, underwater = self.bad_debt_parts()
        house = self.engine.auctions
        row: dict[str, float] = {
            "step": i,
            "time_s": now,
            "external_price_usd": external / PRICE_UNIT,
            "venue_price_usd": self.venue_price() / PRICE_UNIT,
            "oracle_price_usd": self.engine.prices[self.collateral] / PRICE_UNIT,
            "gas_gwei": float(self.gas[i]),
            "liquidatable_accounts": liquidatable,
            "liquidations_step": liquidations,
            "liquidations_cum": self.liquidation_count,
            "liquidated_value_usd_step": value,
            "liquidated_value_usd_cum": self.liquidated_value,
            "bad_debt_usd": realized + in_auctions + underwater,
            "bad_debt_realized_usd_cum": realized,
            "bad_debt_in_auctions_usd": in_auctions,
            "underwater_usd": underwater,
            "borrower_loss_usd_cum": self.borrower_loss_base / PRICE_UNIT,
            "auctions_running": len(house.running) if house else 0,
            "health_p05": p05,
            "health_p50": p50,
            "keeper_profit_usd_cum": sum(k.profit for k in self.keepers),
        }
        for asset in self.other_assets:
            market = self.markets[asset]
            row[f"external_price_usd.{asset}"] = self.fixed[asset][i] / PRICE_UNIT
            row[f"venue_price_usd.{asset}"] = market.venue_price() / PRICE_UNIT
            row[f"oracle_price_usd.{asset}"] = self.engine.prices[asset] / PRICE_UNIT
        if self.perps is not None:
            row.update(self.perps.row())
        for name, column in s.items():
            column.append(row[name])

    def run(self, on_step: Callable[[int], None] | None = None) -> None:
        """Set up and record step 0 (the initial state), then every step (``on_step(i)``
        after each, for progress bars).

        With a log, the set-up and each step are one batch: one commit each, so a crash
        loses at most the step in progress and replay ends at the last whole step.
        """
        self.start()
        for i in range(1, self.spec.steps + 1):
            with self.engine.batch():
                self.step(i)
            if on_step is not None:
                on_step(i)
        self.engine.close()

    def start(self) -> None:
        """Set up (one batch) and record step 0."""
        with self.engine.batch():
            self.setup()
        self.capacity = self.book_capacity()
        self.book.incremental_scan()
        self._touched_since_scan.clear()
        if self.observer is not None:
            self.observer.scanned(0, self.book.below_accounts())
        self._record(0, self.engine.ledger.time, self.fixed[self.collateral][0],
                     len(self.book.below_accounts()), 0, 0.0)

    def book_capacity(self) -> dict[str, float]:
        """The book's capital efficiency right after set-up, USD at the step-0 prices.

        ``borrowing_power``: what the borrowers' collateral lets them borrow in all
        (collateral after LTV weights, the margin model's initial value, summed);
        ``borrowed_value``: the debt the protocol accepted; ``borrow_demand``: the debt the
        book asked for (the synthetic book's total and the explicit accounts' borrows);
        ``borrow_usage``: accepted debt over borrowing power (the backtest's measure,
        ``sim/backtest.py``, at step 0); ``demand_served``: accepted over asked (1 when
        every borrow went through).
        """
        power = borrowed = 0
        for account in self.borrowers:
            data = self.engine.account_data(account)
            power += data.initial_value
            borrowed += data.total_debt
        demand = float(self.start_debt_value)
        for extra in self.spec.accounts:
            for asset, whole in extra.borrow.items():
                demand += float(whole) * self.engine.prices[asset] / PRICE_UNIT
        borrowed_usd = borrowed / PRICE_UNIT
        return {"borrowing_power": power / PRICE_UNIT, "borrowed_value": borrowed_usd,
                "borrow_demand": demand,
                "borrow_usage": borrowed / power if power > 0 else 0.0,
                "demand_served": min(1.0, borrowed_usd / demand) if demand > 0 else 1.0}

    def summary(self) -> dict[str, Any]:
        """The run's figures (see docs/simulator.md)."""
        engine = self.engine
        house = engine.auctions
        outcomes = house.outcomes if house else []
        clearing = engine.ledger.clearing
        venue_prices = self.series["venue_price_usd"] or (
            [self._venue_low_usd] if self._venue_low_usd < math.inf else [self.prices[0]])
        realized, in_auctions, underwater = self.bad_debt_parts()
        return {
            "bad_debt": realized + in_auctions + underwater,
            "bad_debt_realized": realized,
            "bad_debt_in_auctions": in_auctions,
            "bad_debt_underwater": underwater,
            "liquidated_value": self.liquidated_value,
            "liquidation_count": self.liquidation_count,
            "liquidator_profit": sum(k.profit for k in self.keepers),
            "keeper_gas_spent": sum(k.gas_spent for k in self.keepers),
            "borrower_loss": self.borrower_loss_base / PRICE_UNIT,
            "auctions_started": (house.clipper.kicks if house and house.clipper else
                                 house.flipper.kicks if house and house.flipper else 0),
            "auctions_settled": len(outcomes),
            "auctions_settled_near_zero": sum(1 for o in outcomes if o.near_zero),
            "auctions_running": len(house.running) if house else 0,
            "insurance_fund_drawdown": clearing.insurance_drawdown / self.debt_unit,
            "adl_volume": sum(m.adl_volume for m in clearing.markets.values())
            / self.debt_unit,
            "time_to_liquidate_mean_steps": (float(np.mean(self.time_to_liquidate))
                                             if self.time_to_liquidate else None),
            "min_price": float(np.min(self.prices)),
            "final_price": float(self.prices[-1]),
            "min_venue_price": float(np.min(venue_prices)),
            # Every simulated asset: lowest and last external price, lowest venue price.
            "asset_prices": {a: {"min_price": float(np.min(self.paths.path(a))),
                                 "final_price": float(self.paths.path(a)[-1]),
                                 "min_venue_price": self.venue_lows[a] / PRICE_UNIT}
                             for a in self.paths.assets},
            "setup_rejected": self.rejected_setup,
            "book_open": self.spec.book.open,
            "opened_above_borrowing_power": self.opened_above_borrowing_power,
            "opened_below_health_1": self.opened_below_health_1,
            "explicit_actions": sum(len(v) for v in self.actions.values()),
            "rejected_actions": [str(o) for o in self.rejected_actions],
            **getattr(self, "capacity", {}),
            "toxic_liquidations": sum(1 for r in self.ltv_log
                                      if r["ltv_after"] > r["ltv_before"]),
            "accounts": len(self.borrowers),
            "events": engine.seq,
            "state_hash": engine.state_hash(),
            **(self.perps.summary() if self.perps is not None else {}),
        }


def _perp_sim(runner: CascadeRunner) -> PerpSim | None:
    """The runner's perp venue (sim/perps.py) when the scenario has ``[perps]``; its
    series columns join the runner's."""
    if runner.spec.perps is None:
        return None
    sim = PerpSim(runner, runner.spec.perps)
    for name in sim.columns():
        runner.series[name] = []
    return sim


#: Runners of the protocol families with state of their own, by liquidation mechanism:
#: registered by the module defining them (``sim/family_cascade.py``: Liquity v1, Morpho
#: Blue), which the ``sim`` package imports, so they are here whenever this module is.
FAMILY_RUNNERS: dict[LiquidationMechanism, type[CascadeRunner]] = {}


def runner_class(protocol: ProtocolConfig) -> type[CascadeRunner]:
    """The runner of ``protocol``: its family's (:data:`FAMILY_RUNNERS`) or the lending
    cascade's."""
    return FAMILY_RUNNERS.get(protocol.rules.liquidation, CascadeRunner)


def scenario_spec(data: dict[str, Any], source: str | None = None) -> tuple[CascadeFile,
                                                                             ProtocolConfig]:
    """Validate a cascade scenario and its protocol, and what the one asks of the other
    (:func:`~marginengine.sim.cascade_config.check_cascade`); relative ``price.file`` and
    ``gas.file`` are read from the folder of ``source``."""
    spec = validate_model(CascadeFile, anchor_files(data, source), source=source)
    protocol = protocol_from_dict(spec.protocol, source=source, prefix="protocol")
    from marginengine.sim.family_cascade_config import check_family_cascade

    def checks(sub: CascadeFile, config: ProtocolConfig) -> list[str]:
        return check_cascade(sub, config) + check_family_cascade(sub, config)

    # Every action acts on one protocol, named by it or told by its account (sim/actions).
    holders: dict[str, list[str]] = {}
    for name, accounts in ((protocol.name, spec.accounts),
                           *((e.name, e.accounts) for e in spec.protocols)):
        for acct in accounts:
            if name not in holders.setdefault(acct.id, []):
                holders[acct.id].append(name)
    placed, problems = resolve_actions(
        spec.actions, [protocol.name, *(e.name for e in spec.protocols)], holders)
    spec = spec.model_copy(update={"actions": [a for a in placed if a is not None]})
    problems += checks(spec, protocol) + check_chains(spec)
    names = [protocol.name]
    configs = {protocol.name: protocol}
    for k, extra in enumerate(spec.protocols):
        where = field_path("protocols", k)
        if extra.name in names:
            problems.append(f"{where}.name: {extra.name!r} is taken (protocol names: "
                            f"{', '.join(names)}; the scenario's own is [protocol] name)")
        names.append(extra.name)
        config = protocol_from_dict(extra.protocol_table(), source=source,
                                    prefix=f"{where}.protocol")
        if config.name != extra.name:
            problems.append(f"{where}.protocol.name: {config.name!r} differs from the "
                            f"entry's name {extra.name!r} (the name its figures and log "
                            "are kept under); remove it or give the same")
        configs.setdefault(extra.name, config)
        # Its gas is one of the scenario's chains, checked above under gas.* (a missing
        # replay file is named once, where it is written, not again as protocols.K.gas).
        problems += [f"{where}.{p}" for p in checks(protocol_scenario(spec, extra), config)
                     if not p.startswith("gas.")]
        if not problems and venue_quote_unit(spec, protocol) != venue_quote_unit(
                protocol_scenario(spec, extra), config):
            problems.append(f"{where}.book: its venue quote differs from the first "
                            "protocol's (the venues are shared): give both books the same "
                            "kind (single-asset with debt assets of the same decimals, or "
                            "both of several assets)")
    problems += check_actions(placed, spec.steps, configs)
    if problems:
        raise ConfigError(problems, source=source)
    return spec, protocol


def venue_quote_unit(spec: CascadeFile, protocol: ProtocolConfig) -> int:
    """Smallest units per whole quote of the scenario's venues: USD at 8 decimals for a
    book of several assets, else the book's debt asset."""
    if spec.book.multi():
        return int(PRICE_UNIT)
    return int(protocol.markets[spec.book.debt_asset].unit)


def protocol_configs(spec: CascadeFile) -> list[tuple[str, CascadeFile, ProtocolConfig]]:
    """Every further protocol of a validated scenario: its name, its view of the scenario
    (:func:`~marginengine.sim.cascade_config.protocol_scenario`) and its configuration."""
    return [(extra.name, protocol_scenario(spec, extra),
             protocol_from_dict(extra.protocol_table(),
                                prefix=field_path("protocols", k, "protocol")))
            for k, extra in enumerate(spec.protocols)]


def run_cascade(data: dict[str, Any], rng: np.random.Generator | None = None, *,
                traces: bool = True, amplification: bool = True,
                log_path: Path | None = None, source: str | None = None,
                on_step: Callable[[int], None] | None = None,
                explain_run: bool = False) -> CascadeResult:
    """Run a cascade scenario once (``rng``: the run's generator; default from ``seed``).

    With ``amplification``, the same path is run again with the feedback off, and
    ``amplification`` is the venue's drop with feedback over its drop without. With
    ``explain_run``, the run also records what :func:`marginengine.sim.explain.explain`
    needs and the result carries its ``explanation`` (for the report).
    """
    spec, protocol = scenario_spec(data, source)
    if rng is None:
        rng = np.random.default_rng(spec.seed)
    state = rng.bit_generator.state
    runners = _runners(spec, protocol, rng, state, None, log_path)
    for r in runners:
        r.record_series = traces  # a run that keeps no traces records no rows
    runner = runners[0]
    observers = [RunObserver() for _ in runners] if explain_run else []
    for observer, each in zip(observers, runners, strict=False):
        observer.attach(each)
    summary, series = _run(runners, spec, on_step)
    explanation = combine([(r.protocol.name, explain(r, o))
                           for r, o in zip(runners, observers, strict=False)]) \
        if observers else None
    summary["seed"] = spec.seed
    summary["start_time_utc"] = utc_iso(runner.start_time)
    summary["amplification"] = None
    twin_series = None
    if amplification:
        twin_rng = np.random.default_rng()
        twin_rng.bit_generator.state = state
        twins = _runners(spec, protocol, twin_rng, state, False, None)
        for r in twins:
            r.record_series = traces
        twin_summary, twin_series = _run(twins, spec, None)
        start = runner.prices[0]
        drop_with = start - summary["min_venue_price"]
        drop_without = start - twin_summary["min_venue_price"]
        summary["amplification"] = (drop_with / drop_without) if drop_without > 0 else None
        summary["liquidation_count_without_feedback"] = twin_summary["liquidation_count"]
        summary["bad_debt_without_feedback"] = twin_summary["bad_debt"]
    auctions = []
    if runner.engine.auctions is not None:
        losses = runner.auction_losses
        auctions = [{"id": o.id, "account": o.account, "debt": o.debt / WAD,
                     "raised": o.raised / WAD, "lot_sold": o.lot_sold / WAD,
                     "settle_price": o.settle_price / PRICE_UNIT,
                     "price_at_kick": o.price_at_kick / PRICE_UNIT, "near_zero": o.near_zero,
                     "shortfall": o.shortfall / WAD,
                     "oracle_price_at_settle": losses[o.id][0] / PRICE_UNIT
                     if o.id in losses else None,
                     "borrower_loss": losses[o.id][1] / PRICE_UNIT if o.id in losses else None}
                    for o in runner.engine.auctions.outcomes]
    return CascadeResult(summary, series if traces else {}, runner.engine, auctions,
                         twin_series if traces else None, runner.ltv_log, explanation)


def _runners(spec: CascadeFile, protocol: ProtocolConfig, rng: np.random.Generator,
             state: Mapping[str, Any], feedback: bool | None,
             log_path: Path | None) -> list[CascadeRunner]:
    """The scenario's runner, then one per further protocol (``[[protocols]]``) on its
    paths, gas and venues, each with its own generator and log (``events.<name>.sqlite``
    beside the first's)."""
    from marginengine.sim.protocols import protocol_rng

    # A Liquity or Morpho protocol runs under its family's runner (sim/family_cascade.py).
    main = runner_class(protocol)(spec, protocol, rng, feedback=feedback, log_path=log_path)
    runners = [main]
    for k, (name, sub, config) in enumerate(protocol_configs(spec), start=1):
        path = log_path.with_name(f"{log_path.stem}.{name}{log_path.suffix}") \
            if log_path is not None else None
        runners.append(runner_class(config)(sub, config, protocol_rng(state, k),
                                            feedback=feedback, log_path=path, shared=main))
    return runners


def _run(runners: list[CascadeRunner], spec: CascadeFile,
         on_step: Callable[[int], None] | None) -> tuple[dict[str, Any],
                                                           dict[str, list[float]]]:
    """Run one protocol alone, or several together; their summary and series."""
    from marginengine.sim.protocols import (
        chain_summary,
        combined_series,
        combined_summary,
        run_together,
    )

    names = [r.protocol.name for r in runners]
    chains = [r.spec.gas.chain for r in runners]
    if len(runners) == 1:
        runners[0].run(on_step)
        summary, series = runners[0].summary(), runners[0].series
    else:
        run_together(runners, spec.steps, on_step)
        summary = combined_summary(names, [r.summary() for r in runners])
        series = combined_series([(r.protocol.name, r.series) for r in runners], chains)
    if spec.gas.chains:
        # Only a scenario of several chains has the figure: one chain's are as they were.
        summary["chains"] = chain_summary(chains, names, [list(r.gas) for r in runners])
    return summary, series
