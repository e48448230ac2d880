"""The cascade scenario file (``kind = "cascade"``): validated with pydantic.

A cascade scenario drives the engine through time with an exogenous price path, a
liquidity venue, an oracle, gas, keepers and (optionally) auctions. See
``docs/simulator.md`` for the order of work within a step and every field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from marginengine.config.amounts import HumanNumber, parse_asset_amounts
from marginengine.config.base import StrictModel
from marginengine.config.models import ProtocolConfig
from marginengine.fixedpoint import parse_units
from marginengine.ledger import check_account_id
from marginengine.sim.actions import CascadeActionSpec
from marginengine.sim.books import COUNTERPARTY, ProfileSpec, check_profiles
from marginengine.sim.feeds import Deviation
from marginengine.sim.gas import MAX_GAS_GWEI, RETURN_SECONDS
from marginengine.sim.joint import AssetPriceSpec, CorrelationSpec, JointPriceSpec, check_joint
from marginengine.sim.scenario import RUN_NAME_PATTERN, check_run_name

#: Yearly volatility above which ``simulate`` warns: 3 is 300% a year, beyond any 30-day
#: realized volatility of ETH or BTC; a larger value is most often a percentage written
#: for a fraction (``sigma = 80`` meant as 80%, which is 8,000% a year).
SIGMA_WARN = Decimal(3)
#: Largest yearly volatility accepted (10,000% a year); beyond it the price paths leave
#: the float range within a few steps.
SIGMA_MAX = Decimal(100)

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
#: A USD price per whole token: from one price unit (1e-8, the engine's 8 decimals) to
#: 1e15 (beyond any asset; larger values overflow the book's float values).
UsdPrice = Annotated[Decimal, Field(ge=Decimal("1e-8"), le=Decimal("1e15"),
                                    allow_inf_nan=False)]
#: USD of debt in a book: up to 1e15 (a quadrillion).
UsdTotal = Annotated[Decimal, Field(gt=0, le=Decimal("1e15"), allow_inf_nan=False)]
#: Collateral value over debt: above 0, at most 1,000.
Ratio = Annotated[Decimal, Field(gt=0, le=1000, allow_inf_nan=False)]
#: Whole tokens in a venue (an AMM's base reserve, a book's depth within 1%): up to 1e15, a
#: quadrillion tokens, beyond any pool; 1e300 overflowed the keepers' float bound on a
#: sale (sim/markets.py sale_surplus_bound).
VenueTokens = Annotated[Decimal, Field(gt=0, le=Decimal("1e15"), allow_inf_nan=False)]
#: The log-sigma of a lognormal spread in a synthetic book: at most 10 (one account in a
#: million is then e^50 times the median; beyond that the book's float values overflow).
LogSigma = Annotated[Decimal, Field(ge=0, le=10, allow_inf_nan=False)]


class PriceSpec(StrictModel):
    """The exogenous price path of the collateral (``asset``) in USD, or, with ``assets``,
    the joint model of every simulated asset (:mod:`marginengine.sim.joint`); ``asset``
    is then the headline asset (the series' prices, gas paid in it)."""

    asset: str = "WETH"
    process: Literal["replay", "gbm", "jump", "ou", "bridge", "crash", "path"] = "gbm"
    file: str = ""                         # replay: 10-minute OHLCV JSON or a Gemini CSV
    #: replay: each run replays a window of ``steps`` steps starting at a bar drawn from the
    #: run's generator (a block bootstrap of the history; common to every margin policy).
    random_window: bool = False
    path: list[UsdPrice] = Field(default_factory=list)  # path: prices per step, last held
    field: str = "price_close"
    s0: UsdPrice = Decimal(2000)
    mu: Decimal = Decimal(0)
    sigma: Annotated[Decimal, Field(ge=0, le=SIGMA_MAX, allow_inf_nan=False)] = \
        Decimal("0.8")                      # yearly, a fraction: 0.8 is 80% a year
    jump_intensity: NonNegative = Decimal(0)  # per year
    jump_mean: Decimal = Decimal(0)         # log size
    jump_std: NonNegative = Decimal(0)
    theta: NonNegative = Decimal(0)         # OU speed (per year)
    end: UsdPrice = Decimal(1000)           # bridge target
    crash_at: int = Field(default=0, ge=0)  # crash: step of a k-sigma drop
    crash_k_sigma: NonNegative = Decimal(0)
    vol_scale: Positive = Decimal(1)
    assets: dict[str, AssetPriceSpec] = Field(default_factory=dict)   # the joint model
    correlation: CorrelationSpec | None = None

    @model_validator(mode="after")
    def _one_model(self) -> PriceSpec:
        single = self.model_fields_set - {"asset", "assets", "correlation"}
        if self.assets and single:
            raise ValueError(f"{', '.join(sorted(single))}: with [price.assets] each asset "
                             "has its own process; move these into [price.assets."
                             f"{self.asset}]")
        if self.correlation is not None and not self.assets:
            raise ValueError("correlation: needs [price.assets] (the assets it correlates)")
        return self


class VenueSpec(StrictModel):
    """Where liquidated collateral is sold; arbitrage pulls it toward the external price."""

    kind: Literal["amm", "depth"] = "amm"
    base_reserve: VenueTokens = Decimal(50_000)   # whole collateral tokens (amm)
    fee_bps: int = Field(default=30, ge=0, le=1000)
    depth_at_1pct: VenueTokens = Decimal(2_000)   # whole tokens sellable within 1% (depth)
    exponent: Annotated[Decimal, Field(gt=0, le=4, multiple_of=Decimal("0.05"))] = Decimal(1)
    resilience: Fraction = Decimal("0.3")
    #: Fraction of the gap to the external price closed per step; 0 is a venue nobody
    #: arbitrages (its price moves only with the keepers' sales).
    arbitrage_speed: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    feedback: bool = True                          # liquidation sales trade on the venue


class OracleSpec(StrictModel):
    """How the engine sees the collateral price."""

    kind: Literal["direct", "osm", "venue", "push"] = "direct"
    hop: int = Field(default=3600, gt=0)           # osm
    twap_window: int = Field(default=0, ge=0)      # venue: 0 = spot
    deviation: Deviation = Decimal("0.005")        # push: whole bps
    heartbeat: int = Field(default=3600, gt=0)


#: A chain's name (``[gas] chain``, the keys of ``[gas.chains]``, ``[[protocols]] chain``).
CHAIN_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"


#: The keeper actions whose gas ``gas_used`` sets (the names the agents charge gas for;
#: an action left out costs 200,000 gas).
GAS_ACTIONS = ("absorb", "bark", "buy_collateral", "deal", "dent", "liquidate",
               "liquidate_perp", "redo", "resolve_bankruptcy", "take", "tend")


class GasChainSpec(StrictModel):
    """One chain's gas: its price (gwei) per step and gas used per keeper action."""

    kind: Literal["constant", "replay", "process"] = "constant"
    #: 0 is a chain with no fee (a test chain): keepers pay no gas, whatever the kind.
    gwei: NonNegative = Decimal(20)
    file: str = ""
    field: str = "90.0 Perc"
    vol_sensitivity: NonNegative = Decimal(1)
    noise: NonNegative = Decimal("0.1")
    cap_gwei: Positive | None = None
    #: process: the shortest return (seconds) the volatility is read from; shorter steps
    #: are summed to it (sim/gas.py RETURN_SECONDS), so gas does not depend on the step.
    return_seconds: Positive = Decimal(str(RETURN_SECONDS))
    gas_used: dict[str, int] = Field(default_factory=lambda: {
        "liquidate": 300_000, "bark": 400_000, "take": 250_000, "redo": 150_000,
        "tend": 150_000, "dent": 150_000, "deal": 100_000, "absorb": 300_000,
        "liquidate_perp": 300_000,
    })

    @field_validator("gwei")
    @classmethod
    def _modelled_price(cls, value: Decimal) -> Decimal:
        # Above the ceiling of the gas process (sim/gas.py MAX_GAS_GWEI) no keeper could
        # pay, and the process could not start from it.
        if value > Decimal(str(MAX_GAS_GWEI)):
            raise ValueError(f"must be at most {MAX_GAS_GWEI:g} gwei, the highest gas price "
                             f"modelled (1,000 ETH per unit of gas; got {value})")
        return value

    @field_validator("gas_used")
    @classmethod
    def _known_actions(cls, value: dict[str, int]) -> dict[str, int]:
        # A misspelt action cost the default 200,000 gas without a word, and a negative
        # amount paid the keepers for their transactions (negative keeper_gas_spent).
        problems = [f"{name}: unknown action (actions: {', '.join(GAS_ACTIONS)})"
                    for name in value if name not in GAS_ACTIONS]
        problems += [f"{name}: must be at least 0 gas (got {used})"
                     for name, used in value.items() if name in GAS_ACTIONS and used < 0]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class GasSpec(GasChainSpec):
    """The scenario's gas: the default chain's (``[gas]``, the chain of ``[protocol]``), and
    further chains (``[gas.chains.NAME]``, the same fields) a ``[[protocols]]`` entry may be
    on (its ``chain``). Each chain has its own series; a keeper pays its protocol's chain's.
    """

    chain: str = Field(default="default", pattern=CHAIN_NAME_PATTERN)
    chains: dict[str, GasChainSpec] = Field(default_factory=dict)

    def chain_spec(self, name: str) -> GasSpec:
        """Chain ``name``'s gas as a chain of its own (this one for the default chain, and
        for a name that is no chain: :func:`check_chains` reports that)."""
        table = self.chains.get(name)
        if name == self.chain or table is None:
            return self
        return GasSpec(**dict(table), chain=name)


class KeeperSpec(StrictModel):
    """One keeper: its capital, reaction, gas tolerance and strategy."""

    id: str
    capital: Positive = Decimal(10_000_000)        # USD of the debt asset it can spend
    latency: int = Field(default=0, ge=0)          # blocks before it acts on something new
    max_gas_gwei: Positive | None = None           # above this, its transactions fail
    min_profit: NonNegative = Decimal(0)           # USD per action
    margin: Fraction = Decimal("0.03")             # discount to market it bids at (flip/clip)
    flash_loan: bool = False                       # no capital limit; sells at once
    strategy: Literal["profit", "lowball"] = "profit"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        try:
            return check_account_id(value, "id")
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("id: ")) from None


class BookSpec(StrictModel):
    """A synthetic book of vaults/borrowers: lognormal sizes and collateralization."""

    #: 0: no synthetic borrowers (a perp-only scenario: ``[perps]``).
    accounts: int = Field(default=200, ge=0, le=2_000_000)
    total_debt: UsdTotal = Decimal(10_000_000)     # USD
    whales: int = Field(default=3, ge=0)
    whale_share: Fraction = Decimal("0.3")         # of total debt held by the whales
    collateralization_median: Ratio = Decimal("2.2")   # collateral value / debt
    collateralization_sigma: LogSigma = Decimal("0.35")
    min_collateralization: Ratio = Decimal("1.55")
    debt_asset: str = "DAI"
    collateral_asset: str | None = None            # the price path's asset (price.asset)
    # A book of several assets: synthetic profiles, or a file (CSV/Parquet), or a snapshot.
    profiles: list[ProfileSpec] = Field(default_factory=list)
    health_median: Ratio = Decimal("1.6")          # health factor (under thresholds)
    health_sigma: LogSigma = Decimal("0.3")
    min_health: Ratio | None = None                # default: what initial margin allows
    #: How a profiles book sizes collateral: "health" (a health factor under today's
    #: thresholds, floored at what initial margin allows) or "collateralization"
    #: (collateral value / debt from collateralization_median/_sigma, floored at
    #: min_collateralization, the same book whatever the parameters; borrows the protocol
    #: refuses are refused, and demand_served says how much was accepted).
    profile_basis: Literal["health", "collateralization"] = "health"
    file: str = ""                                 # account,asset,supplied,borrowed
    snapshot: str = ""                             # a snapshot TOML's [[accounts]]
    #: How the book's accounts open: "borrow" through the engine's events, each decided
    #: by the protocol (SetUserEMode, Deposit, Borrow: a position initial margin refuses is
    #: refused); "import" as they stand (ImportAccount, no margin check: an account above
    #: its borrowing power or below health 1 opens as it is, counted in the summary's
    #: opened_above_borrowing_power and opened_below_health_1). docs/simulator.md.
    open: Literal["borrow", "import"] = "borrow"

    def multi(self) -> bool:
        """Whether the book has several assets (profiles, a file or a snapshot)."""
        return bool(self.profiles or self.file or self.snapshot)

    # Runs only on a value given (the default 3 shrinks to accounts - 1 in a tiny book).
    @field_validator("whales")
    @classmethod
    def _whales(cls, value: int, info: ValidationInfo) -> int:
        accounts = info.data.get("accounts")
        # 0 accounts (a perp-only scenario, checked by check_cascade): no book to split.
        if accounts and value and value >= accounts:
            raise ValueError(f"must be fewer than accounts ({value} whales, {accounts} "
                             "accounts): the rest of the debt needs ordinary accounts")
        return value

    @field_validator("whale_share")
    @classmethod
    def _whale_share(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        # A share of 0 gave every whale, and 1 every other account, a debt of 0: accounts
        # that borrow nothing (the Liquity and family runners divided by it). The whales
        # as the book draws them: at most accounts - 1 (sim/book.py synthetic_book).
        accounts, whales = info.data.get("accounts") or 0, info.data.get("whales") or 0
        whales = min(whales, accounts - 1) if accounts > 1 else 0
        if whales and value == 0:
            raise ValueError(f"0 leaves the whales ({whales} of {accounts} accounts) without "
                             "debt; for a book without whales set whales = 0")
        if whales and value == 1:
            raise ValueError(f"1 leaves the {accounts - whales} accounts that are not whales "
                             "without debt; give them a share below 1")
        return value


class CascadeAccountSpec(StrictModel):
    """An explicit account besides the synthetic book: deposits, then borrows (whole
    tokens)."""

    id: str
    deposit: dict[str, HumanNumber] = Field(default_factory=dict)
    borrow: dict[str, HumanNumber] = Field(default_factory=dict)


class MonteCarloSpec(StrictModel):
    """Monte Carlo settings (``simulate`` runs N paths when ``runs > 1``)."""

    runs: int = Field(default=1, ge=1, le=100_000)
    backend: Literal["process", "dask"] = "process"
    workers: int = Field(default=2, ge=1, le=256)
    keep_traces: bool = False


class PerpMarketSpec(StrictModel):
    """A perp market of the cascade (its rules are ``[protocol.perps.SYMBOL]``): the
    simulated asset whose external price is its index, the index's oracle, and how its
    mark moves (:mod:`marginengine.sim.perps`)."""

    asset: str | None = None                       # default: price.asset
    oracle: OracleSpec = OracleSpec()               # publishes the index (SetPrice SYMBOL)
    #: ``venue``: each step a one-step-size print trades at the asset venue's mid, so the
    #: engine's mark (median of index, last trade and index x (1 + EMA basis)) follows the
    #: venue the liquidations' hedges trade on; ``index``: no print (mark = index).
    mark: Literal["venue", "index"] = "venue"
    #: How a liquidator closes what it took over: ``venue`` lays it off on the asset's
    #: venue (``[perps] hedge``); ``gmx-v2`` and ``synthetix-v3`` close it against the
    #: perp venue as a pool, at GMX v2's price impact on the traders' long/short open
    #: interest (venue/gmx.py) or Synthetix v3's skew fill price (venue/synthetix.py).
    pricing: Literal["venue", "gmx-v2", "synthetix-v3"] = "venue"
    #: GMX v2: ``positionImpactFactor`` for the side that worsens (``negative``) and
    #: improves (``positive``, capped at the negative one) the balance, per USD^exponent.
    impact_factor_negative: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] | \
        None = None
    impact_factor_positive: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] | \
        None = None
    #: GMX v2: ``positionImpactExponentFactor`` (both sides; GMX's markets use 1 to 3).
    impact_exponent: Annotated[Decimal, Field(ge=1, le=4, allow_inf_nan=False)] = Decimal(2)
    #: Synthetix v3: ``skewScale`` in base tokens (the skew at which the premium is 100%).
    skew_scale: Annotated[Decimal, Field(gt=0, le=10**12, allow_inf_nan=False)] | None = None


class PerpBookSpec(StrictModel):
    """The perp traders: a seeded synthetic book, or a file ``account,market,size,
    entry_price,quote`` (CSV or Parquet, :func:`marginengine.sim.books.read_book`)."""

    accounts: int = Field(default=0, ge=0, le=1_000_000)
    total_notional: UsdTotal = Decimal(10_000_000)  # USD at step 0, whales included
    whales: int = Field(default=2, ge=0)
    whale_share: Fraction = Decimal("0.2")         # of the notional, the whales together
    long_share: Fraction = Decimal("0.7")          # accounts (and whales) that are long
    leverage_median: Annotated[Decimal, Field(ge=1, le=1000, allow_inf_nan=False)] = \
        Decimal(8)                                 # notional / quote, lognormal
    leverage_sigma: NonNegative = Decimal("0.5")
    #: Leverage cap; default what the market's initial margin allows, less 2%.
    leverage_max: Annotated[Decimal, Field(ge=1, le=1000, allow_inf_nan=False)] | None = None
    file: str = ""                                 # account,market,size,entry_price,quote
    #: USD of quote the book's counterparty (the rest of the market, the other side of
    #: every position) holds; default its net position's notional (1x).
    counterparty_quote: NonNegative | None = None

    @model_validator(mode="after")
    def _whales_fewer(self) -> PerpBookSpec:
        if "whales" in self.model_fields_set and self.whales and self.accounts and \
                self.whales >= self.accounts:
            raise ValueError(f"whales: must be fewer than accounts ({self.whales} whales, "
                             f"{self.accounts} accounts)")
        return self


class PerpsSpec(StrictModel):
    """The perp venue of a cascade (``[perps]``): markets, book, insurance funds and
    liquidators. ``insurance`` is whole quote tokens per market with its own fund, or
    ``shared`` for the shared fund."""

    markets: dict[str, PerpMarketSpec] = Field(default_factory=dict)
    book: PerpBookSpec = PerpBookSpec()
    insurance: dict[str, HumanNumber] = Field(default_factory=dict)
    keepers: list[KeeperSpec] = Field(default_factory=lambda: [
        KeeperSpec(id="perp-liquidator", capital=Decimal(50_000_000))])
    #: Whether a liquidator's takeover is laid off on the asset's venue at once (selling
    #: a long it took, buying back a short): the feedback of liquidations on the mark.
    hedge: bool = True

    @model_validator(mode="after")
    def _keepers_unique(self) -> PerpsSpec:
        ids = [k.id for k in self.keepers]
        if len(set(ids)) != len(ids):
            raise ValueError("keepers: ids must be unique")
        return self


class LTVChangeSpec(StrictModel):
    """Euler v2 governance mid-run (``[[family_agents.ltv_changes]]``): ``setLTV`` of
    ``collateral`` at ``step`` (after the keepers), the liquidation LTV ramping down to
    its new value over ``ramp_seconds`` (0: at once; a raise is always at once)."""

    step: int = Field(ge=1)
    collateral: str
    borrow_ltv: Fraction
    liquidation_ltv: Fraction
    ramp_seconds: int = Field(default=0, ge=0, le=10 * 365 * 86400)


class FamilyAgentsSpec(StrictModel):
    """How a family protocol's own actors behave in a cascade (``[family_agents]``;
    :mod:`marginengine.sim.family_cascade`). Ignored by lending protocols."""

    #: Liquity: the stability-pool depositors withdraw their ETH gains every step
    #: (``withdrawFromSP(0)``) and sell them on the venue (feedback); off, they hold them.
    sell_pool_gains: bool = True
    #: Liquity: troves a keeper names in one ``batchLiquidateTroves`` (gas is per trove).
    troves_per_tx: int = Field(default=20, ge=1, le=1000)
    #: Euler v2: governance ``setLTV`` calls at given steps (the LTV ramp).
    ltv_changes: list[LTVChangeSpec] = Field(default_factory=list)


class DriftPerpPositionSpec(StrictModel):
    """An explicit account's Drift perp position (``[[drift_perps.positions]]``): ``base``
    whole base tokens (signed: negative is short), filled at ``entry_price`` (default: the
    underlying's step-0 price) after the account's deposits and borrows."""

    account: str
    base: Annotated[Decimal, Field(ge=Decimal("-1e12"), le=Decimal("1e12"),
                                   allow_inf_nan=False)]
    entry_price: UsdPrice | None = None

    @field_validator("base")
    @classmethod
    def _nonzero(cls, base: Decimal) -> Decimal:
        if base == 0:
            raise ValueError("a position has base (long > 0, short < 0)")
        return base


class DriftPerpsSpec(StrictModel):
    """Drift v2 perp positions in a Drift cascade (``[drift_perps]``;
    :mod:`marginengine.sim.drift_cascade`): the perp ``market`` (one of ``drift.perps``),
    marked at the oracle of ``underlying`` (a simulated asset, default ``price.asset``) and
    unwound on its venue; a ``share`` of the book's accounts hold a position of
    ``notional`` times their collateral's step-0 value, long with probability
    ``long_share``; ``positions`` give explicit accounts theirs."""

    market: str
    underlying: str | None = None
    share: Fraction = Decimal(0)
    notional: Annotated[Decimal, Field(gt=0, le=10, allow_inf_nan=False)] = Decimal("0.5")
    long_share: Fraction = Decimal(1)
    positions: list[DriftPerpPositionSpec] = Field(default_factory=list)
    #: Keepers close the base a liquidation gives them on the underlying's venue at once
    #: (off: they hold it, exposed to the price).
    unwind: bool = True
    #: Keepers also take over a negative perp quote left beside the collateral with
    #: ``liquidate_perp_pnl_for_deposit`` (off by default: the figures of the runs pinned
    #: before it existed stay).
    pnl_for_deposit: bool = False


class ProtocolSpec(StrictModel):
    """A further protocol of the scenario (``[[protocols]]``): its own engine, book,
    keepers, lenders and oracles. Prices and venues are the scenario's: what one
    protocol's keepers sell moves the venue every protocol's venue oracle reads. Its gas
    is its ``chain``'s (:meth:`GasSpec.chain_spec`)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
    protocol: dict[str, Any]
    prices: dict[str, HumanNumber] = Field(default_factory=dict)  # besides the scenario's
    oracle: OracleSpec | None = None               # the headline asset's, for this protocol
    oracles: dict[str, OracleSpec] = Field(default_factory=dict)
    book: BookSpec
    accounts: list[CascadeAccountSpec] = Field(default_factory=list)
    keepers: list[KeeperSpec] = Field(default_factory=lambda: [KeeperSpec(id="keeper")])
    liquidity: dict[str, HumanNumber] = Field(default_factory=dict)
    perps: PerpsSpec | None = None                 # a perp venue (sim/perps.py)
    family_agents: FamilyAgentsSpec = FamilyAgentsSpec()
    drift_perps: DriftPerpsSpec | None = None      # Drift v2 perp positions
    #: The chain it is on, whose gas its keepers pay (``[gas.chains.NAME]``); default the
    #: default chain's (``[gas]``).
    chain: str | None = None

    def protocol_table(self) -> dict[str, Any]:
        """Its ``protocol`` table named by the entry's ``name`` when the table names none:
        the engine's name is the one its summary, series columns and log are keyed by
        (an unnamed table was ``"protocol"``, the first protocol's default, so two
        protocols shared one entry of ``protocols`` in the summary)."""
        return {"name": self.name, **self.protocol}


class CascadeFile(StrictModel):
    """A cascade scenario file.

    ``protocol``, ``price`` and ``book`` are required: a file without them would run a
    scenario nobody wrote.
    """

    kind: Literal["cascade"] = "cascade"   # optional: [price] and [book] make a cascade
    name: str = Field(default="cascade", pattern=RUN_NAME_PATTERN)
    description: str = ""
    seed: int = Field(default=1, ge=0)
    steps: int = Field(default=144, ge=1, le=1_000_000)
    step_seconds: int = Field(default=600, gt=0, le=31_536_000)  # at most a year
    protocol: dict[str, Any]
    prices: dict[str, HumanNumber] = Field(default_factory=dict)  # others' constant prices
    price: PriceSpec
    venue: VenueSpec = VenueSpec()
    oracle: OracleSpec = OracleSpec()
    venues: dict[str, VenueSpec] = Field(default_factory=dict)   # per simulated asset
    oracles: dict[str, OracleSpec] = Field(default_factory=dict)
    gas: GasSpec = GasSpec()
    keepers: list[KeeperSpec] = Field(default_factory=lambda: [KeeperSpec(id="keeper")])
    book: BookSpec
    accounts: list[CascadeAccountSpec] = Field(default_factory=list)  # besides the book
    actions: list[CascadeActionSpec] = Field(default_factory=list)  # explicit (sim/actions)
    monte_carlo: MonteCarloSpec = MonteCarloSpec()
    liquidity: dict[str, HumanNumber] = Field(default_factory=dict)  # lender deposits
    protocols: list[ProtocolSpec] = Field(default_factory=list)  # further protocols
    perps: PerpsSpec | None = None                 # perp markets and traders (sim/perps.py)
    family_agents: FamilyAgentsSpec = FamilyAgentsSpec()  # Liquity / Morpho protocols
    drift_perps: DriftPerpsSpec | None = None      # Drift v2 perp positions (drift_cascade)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_run_name(value)

    @model_validator(mode="after")
    def _keepers(self) -> CascadeFile:
        ids = [k.id for k in self.keepers]
        if len(set(ids)) != len(ids):
            raise ValueError("keepers: ids must be unique")
        return self


#: Ids of the accounts the runner creates itself.
RESERVED_IDS = ("lender",)


def check_cascade(spec: CascadeFile, protocol: ProtocolConfig) -> list[str]:
    """What the file asks that the protocol cannot give: one ``field: reason`` each.

    Checked before anything runs: the assets named in ``price``, ``book``, ``prices``,
    ``liquidity`` and ``accounts`` are markets; amounts are positive numbers; explicit
    account ids are valid and unique; replayed files exist. (``[[actions]]``, which may
    act on any of the scenario's protocols, are checked by
    :func:`~marginengine.sim.cascade.scenario_spec`.)
    """
    problems: list[str] = []
    markets = protocol.markets
    names = ", ".join(sorted(markets))
    asset = spec.price.asset
    if asset not in markets:
        problems.append(f"price.asset: unknown asset {asset!r} (markets: {names})")
    problems += check_joint_cascade(spec, protocol)
    if spec.book.debt_asset not in markets and not spec.book.multi():
        problems.append(f"book.debt_asset: unknown asset {spec.book.debt_asset!r} "
                        f"(markets: {names})")
    collateral = spec.book.collateral_asset
    if spec.book.multi() and collateral is not None:
        problems.append("book.collateral_asset: a book of several assets names its "
                        "collateral in its profiles or file")
    elif collateral is not None and collateral != asset:
        problems.append(f"book.collateral_asset: {collateral!r} differs from price.asset "
                        f"{asset!r}; the book's collateral is the asset whose price path "
                        "is simulated, so set price.asset instead")
    simulated = simulated_assets(spec)
    for name in sorted(simulated & set(spec.prices)):
        problems.append(f"prices.{name}: {name}'s price comes from [price]; remove it")
    parse_asset_amounts({a: v for a, v in spec.prices.items() if a not in simulated},
                        protocol, "prices", problems, prices=True)
    parse_asset_amounts(spec.liquidity, protocol, "liquidity", problems)
    seen: set[str] = set()
    for i, acct in enumerate(spec.accounts):
        where = f"accounts.{i}"
        try:
            check_account_id(acct.id, f"{where}.id")
        except ValueError as exc:
            problems.append(str(exc))
        if acct.id in RESERVED_IDS:
            problems.append(f"{where}.id: {acct.id!r} is the runner's own account")
        if acct.id in seen:
            problems.append(f"{where}.id: duplicate account id {acct.id!r}")
        seen.add(acct.id)
        parse_asset_amounts(acct.deposit, protocol, f"{where}.deposit", problems)
        parse_asset_amounts(acct.borrow, protocol, f"{where}.borrow", problems)
    if spec.price.process == "path" and not spec.price.path:
        problems.append("price.path: a path process needs at least one price")
    for where, kind, file in (("price.file", spec.price.process, spec.price.file),
                              ("gas.file", spec.gas.kind, spec.gas.file),
                              *((f"gas.chains.{name}.file", g.kind, g.file)
                                for name, g in spec.gas.chains.items())):
        if kind != "replay":
            continue
        if not file:
            problems.append(f"{where}: a replay needs a file")
        elif not Path(file).is_file():
            problems.append(f"{where}: no such file {file!r}")
    b = spec.book
    if b.open == "import" and not protocol.rules.accepts("ImportAccount"):
        why = protocol.rules.unsupported.get("ImportAccount", "")
        problems.append(f"book.open: 'import' opens the book by ImportAccount, which "
                        f"{protocol.rules.family} does not apply ({why}); use 'borrow'")
    if b.accounts == 0 and not (b.file or b.snapshot) and (spec.perps is None or b.profiles):
        problems.append("book.accounts: must be at least 1 (0, no "
                        "lending borrowers, only in a scenario with [perps] and no "
                        "book.profiles)")
    if spec.perps is not None:
        problems += check_perps(spec, protocol)
    return problems


#: The market maker whose prints move a perp mark (``mark = "venue"``, sim/perps.py).
MARK_MAKER = "_mark"
#: Accounts the perp runner creates itself.
PERP_RESERVED = (COUNTERPARTY, MARK_MAKER, "lender")
#: The ``[perps.insurance]`` key of the shared fund.
SHARED = "shared"


#: The ``[perps.markets.X]`` fields each pricing takes.
PRICING_FIELDS: dict[str, tuple[str, ...]] = {
    "venue": (),
    "gmx-v2": ("impact_factor_negative", "impact_factor_positive", "impact_exponent"),
    "synthetix-v3": ("skew_scale",),
}


def check_pricing(where: str, market: PerpMarketSpec) -> list[str]:
    """A market's pricing fields: the ones its pricing needs given, no others; factors
    representable in GMX's 30 decimals and the skew scale in Synthetix's 18."""
    problems: list[str] = []
    own = PRICING_FIELDS[market.pricing]
    for name in sorted(market.model_fields_set):
        for pricing, fields in PRICING_FIELDS.items():
            if name in fields and name not in own:
                problems.append(f"{where}.{name}: only with pricing = {pricing!r} (pricing "
                                f"is {market.pricing!r})")
    if market.pricing == "gmx-v2" and market.impact_factor_negative is None:
        problems.append(f"{where}.impact_factor_negative: required with pricing = 'gmx-v2'")
    if market.pricing == "synthetix-v3" and market.skew_scale is None:
        problems.append(f"{where}.skew_scale: required with pricing = 'synthetix-v3'")
    for name, decimals in (("impact_factor_negative", 30), ("impact_factor_positive", 30),
                           ("impact_exponent", 30), ("skew_scale", 18)):
        value = getattr(market, name)
        scaled = None if value is None else value.scaleb(decimals)
        if scaled is not None and scaled != scaled.to_integral_value():
            problems.append(f"{where}.{name}: more than {decimals} decimals ({value})")
    return problems


def check_perps(spec: CascadeFile, protocol: ProtocolConfig) -> list[str]:
    """What ``[perps]`` asks that the protocol cannot give: one ``field: reason`` each."""
    perps = spec.perps
    if perps is None:
        return []
    problems: list[str] = []
    markets = protocol.perps
    if not markets:
        return ["perps: the protocol has no perp markets (give [protocol.perps.SYMBOL])"]
    family = protocol.rules.liquidation.value
    if family in ("liquity", "morpho"):
        return [f"perps: a {family} protocol runs under its family's runner, which has no "
                "perp venue; give the perps a protocol of their own ([[protocols]])"]
    names = ", ".join(sorted(markets))
    simulated = simulated_assets(spec)
    for symbol, market in perps.markets.items():
        if symbol not in markets:
            problems.append(f"perps.markets.{symbol}: unknown perp market (perp markets: "
                            f"{names})")
            continue
        problems += check_pricing(f"perps.markets.{symbol}", market)
        asset = market.asset or spec.price.asset
        if asset not in simulated:
            problems.append(f"perps.markets.{symbol}.asset: {asset!r} has no simulated "
                            f"price (simulated: {', '.join(sorted(simulated))})")
    for symbol in sorted(markets):
        if symbol in spec.prices:
            problems.append(f"prices.{symbol}: {symbol}'s index comes from its asset's "
                            "path ([perps.markets]); remove it")
    quote = next(iter(markets.values())).quote
    for key, raw in perps.insurance.items():
        where = f"perps.insurance.{key}"
        if key == SHARED:
            pass
        elif key not in markets:
            problems.append(f"{where}: unknown perp market (perp markets: {names}; "
                            f"{SHARED!r} for the shared fund)")
            continue
        elif markets[key].insurance_fund != "market":
            problems.append(f"{where}: {key} uses the shared insurance fund; fund it as "
                            f"perps.insurance.{SHARED}")
            continue
        quote_amount(raw, protocol.markets[quote].decimals, where, problems)
    book = perps.book
    if book.file and book.accounts:
        problems.append("perps.book: give accounts (a synthetic book) or file, not both")
    elif not book.file and not book.accounts:
        problems.append("perps.book: no traders (give accounts or file)")
    if book.file and not Path(book.file).is_file():
        problems.append(f"perps.book.file: no such file {book.file!r}")
    # Quote the runner deposits in smallest units (sim/perps.py setup): more decimals than
    # the quote asset has were refused there, by parse_units, without the field's name.
    decimals = protocol.markets[quote].decimals
    if book.counterparty_quote is not None:
        quote_amount(book.counterparty_quote, decimals, "perps.book.counterparty_quote",
                     problems)
    lending_keepers = {k.id for k in spec.keepers}
    for i, keeper in enumerate(perps.keepers):
        if keeper.id in PERP_RESERVED:
            problems.append(f"perps.keepers.{i}.id: {keeper.id!r} is the runner's own account")
        elif keeper.id in lending_keepers:
            problems.append(f"perps.keepers.{i}.id: {keeper.id!r} is also a lending keeper")
        quote_amount(keeper.capital, decimals, f"perps.keepers.{i}.capital", problems)
    return problems


def quote_amount(raw: object, decimals: int, where: str, problems: list[str]) -> int | None:
    """A whole-token amount (``[perps.insurance]``) in smallest units, or ``None`` with a
    ``where: reason`` appended to ``problems``."""
    try:
        amount = parse_units(str(raw).replace("_", ""), decimals)
    except (ValueError, ArithmeticError) as exc:
        problems.append(f"{where}: {exc}")
        return None
    if amount < 0:
        problems.append(f"{where}: must not be negative (got {raw})")
        return None
    return int(amount)



def protocol_scenario(spec: CascadeFile, extra: ProtocolSpec) -> CascadeFile:
    """The scenario as a further protocol sees it: the scenario's prices and venues, its
    chain's gas, with the protocol's own engine, book, keepers, lenders and oracles."""
    # Its own [oracle] only when it gives one: a copy's update marks the field as given,
    # and a scenario whose headline oracle is in [oracles.X] then read as giving both
    # ("protocols.0.oracles.WETH: WETH's oracle is also given in [oracle]").
    own = {"oracle": extra.oracle} if extra.oracle is not None else {}
    return spec.model_copy(update={
        "protocol": extra.protocol_table(),
        # The actions on this protocol (resolved by scenario_spec: each names its own).
        "actions": [a for a in spec.actions if a.protocol == extra.name],
        "prices": {**spec.prices, **extra.prices},
        **own,
        "oracles": {**spec.oracles, **extra.oracles},
        "book": extra.book, "accounts": extra.accounts, "keepers": extra.keepers,
        "liquidity": extra.liquidity, "protocols": [], "perps": extra.perps,
        "family_agents": extra.family_agents, "drift_perps": extra.drift_perps,
        # Its chain's gas (the default chain's without a chain).
        "gas": spec.gas.chain_spec(extra.chain if extra.chain is not None else spec.gas.chain),
    })


def check_chains(spec: CascadeFile) -> list[str]:
    """The chains of ``[gas]`` and the chain of each ``[[protocols]]`` entry: one
    ``field: reason`` each (a chain's name, a protocol on a chain that is not one)."""
    problems: list[str] = []
    chain = spec.gas.chain
    pattern = re.compile(CHAIN_NAME_PATTERN)
    for name in spec.gas.chains:
        if name == chain:
            problems.append(f"gas.chains.{name}: {name!r} is the default chain's name "
                            "([gas] chain); the default chain's gas is [gas] itself")
        elif not pattern.match(name):
            problems.append(f"gas.chains.{name}: a chain's name is a letter, then up to 31 "
                            "letters, digits, '_' or '-'")
    known = ", ".join([chain, *(n for n in spec.gas.chains if n != chain)])
    for k, extra in enumerate(spec.protocols):
        if extra.chain is not None and extra.chain != chain \
                and extra.chain not in spec.gas.chains:
            problems.append(f"protocols.{k}.chain: unknown chain {extra.chain!r} (chains: "
                            f"{known}; add it as [gas.chains.{extra.chain}] or name one of "
                            "these)")
    return problems


def simulated_assets(spec: CascadeFile) -> set[str]:
    """The assets whose price the scenario simulates (``price.asset``, or every asset of
    the joint model)."""
    return set(spec.price.assets) or {spec.price.asset}


def check_joint_cascade(spec: CascadeFile, protocol: ProtocolConfig) -> list[str]:
    """The joint model, the per-asset venues and oracles and the book of several assets
    against the protocol: one ``field: reason`` each."""
    problems: list[str] = []
    markets = protocol.markets
    names = ", ".join(sorted(markets))
    price = spec.price
    if price.assets:
        if price.asset not in price.assets:
            problems.append(f"price.asset: {price.asset!r} is not one of [price.assets] "
                            f"({', '.join(price.assets)}); it names the headline asset")
        for name in price.assets:
            if name not in markets:
                problems.append(f"price.assets.{name}: unknown asset (markets: {names})")
        problems += check_joint(joint_spec(price), "price")
    simulated = simulated_assets(spec)
    for table, given in (("venues", spec.venues), ("oracles", spec.oracles)):
        for name in given:
            if name not in simulated:
                problems.append(f"{table}.{name}: {name} has no simulated price (simulated: "
                                f"{', '.join(sorted(simulated))})")
    main = price.asset
    if main in spec.venues and "venue" in spec.model_fields_set:
        problems.append(f"venues.{main}: {main}'s venue is also given in [venue]; keep one")
    if main in spec.oracles and "oracle" in spec.model_fields_set:
        problems.append(f"oracles.{main}: {main}'s oracle is also given in [oracle]; keep one")
    b = spec.book
    sources = [n for n, on in (("profiles", bool(b.profiles)), ("file", bool(b.file)),
                               ("snapshot", bool(b.snapshot))) if on]
    if len(sources) > 1:
        problems.append(f"book: give one of profiles, file or snapshot (got "
                        f"{' and '.join(sources)})")
    if b.profiles:
        problems += check_profiles(b.profiles, protocol)
        priced = simulated | set(spec.prices)
        used = sorted({a for p in b.profiles for a in (*p.collateral, *p.debt)
                       if a in markets})
        for name in used:
            if name not in priced:
                problems.append(f"prices.{name}: missing (the book's profiles hold {name}; "
                                "give its price here or simulate it in [price.assets])")
    for where, file in (("book.file", b.file), ("book.snapshot", b.snapshot)):
        if file and not Path(file).is_file():
            problems.append(f"{where}: no such file {file!r}")
    return problems


def joint_spec(price: PriceSpec) -> JointPriceSpec:
    """The joint model of a ``[price]`` table with ``assets``."""
    return JointPriceSpec(assets=price.assets, correlation=price.correlation)


def cascade_warnings(spec: CascadeFile) -> list[str]:
    """Values that are allowed but probably not meant (``simulate`` prints each)."""
    out = []
    sigmas = ([(f"price.assets.{n}.sigma", a.sigma) for n, a in spec.price.assets.items()
               if a.process in ("gbm", "jump", "bridge")] if spec.price.assets else
              [("price.sigma", spec.price.sigma)] if spec.price.process != "path" else [])
    for where, sigma in sigmas:
        if sigma > SIGMA_WARN:
            out.append(f"{where} = {sigma} is {sigma * 100:,.0f}% a year (above "
                       f"{SIGMA_WARN}); sigma is a fraction: 0.8 means 80% a year")
    return out + _late_events(spec) + _unused_chains(spec)


def _unused_chains(spec: CascadeFile) -> list[str]:
    """A ``[gas.chains.NAME]`` no ``[[protocols]]`` entry is on: its gas is drawn and paid
    by no one, most likely a misspelt name (the protocol then pays the default chain's)."""
    used = {p.chain for p in spec.protocols if p.chain is not None}
    return [f"gas.chains.{name}: no protocol is on this chain (set chain = {name!r} in a "
            "[[protocols]] entry, or remove the table)"
            for name in spec.gas.chains if name not in used]


def _late_events(spec: CascadeFile) -> list[str]:
    """A crash, a bridge's end or a depeg shock timed after the last step: the path
    model moves the first two to the last step (a crash squeezed into a shorter run)
    and drops the third, so a scenario cut short (``--set steps=...``) answers another
    question than the one its file asks."""
    n, price, out = spec.steps, spec.price, []
    if not price.assets and price.process == "crash" and price.crash_at > n:
        out.append(f"price.crash_at = {price.crash_at} is after the last step ({n}): the "
                   f"crash comes at step {n}")
    for name, a in price.assets.items():
        if a.process == "bridge" and a.end_at > n:
            out.append(f"price.assets.{name}.end_at = {a.end_at} is after the last step "
                       f"({n}): the bridge reaches {a.end} at step {n}")
        if a.depeg.shock and a.depeg.shock_at > n:
            out.append(f"price.assets.{name}.depeg.shock_at = {a.depeg.shock_at} is after "
                       f"the last step ({n}): the shock of {a.depeg.shock} never happens")
    return out


def anchor_files(data: dict[str, Any], source: str | Path | None) -> dict[str, Any]:
    """``data`` with every relative file path made relative to the folder of ``source``
    (the scenario file), as a user reading the file expects: ``price.file``,
    ``price.assets.X.file``, ``gas.file``, ``book.file``, ``book.snapshot``,
    ``perps.book.file``, and the ``book`` and ``perps.book`` files of every
    ``[[protocols]]`` entry.

    Without ``source`` the data is returned as is (relative paths then resolve against
    the working directory). The paths become absolute, so anchoring twice (the CLI, then
    :func:`~marginengine.sim.cascade.scenario_spec`) changes nothing the second time.
    """
    if source is None:
        return data
    base = Path(source).resolve().parent
    out = dict(data)
    def anchored(section: dict[str, Any], key: str) -> dict[str, Any]:
        value = section.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return {**section, key: str(base / value)}
        return section

    for table in ("price", "gas"):
        section = out.get(table)
        if isinstance(section, dict):
            out[table] = anchored(section, "file")
    gas = out.get("gas")
    if isinstance(gas, dict) and isinstance(gas.get("chains"), dict):
        # A further chain's replayed gas, like [gas]'s own.
        out["gas"] = {**gas, "chains": {
            k: anchored(v, "file") if isinstance(v, dict) else v
            for k, v in gas["chains"].items()}}
    price = out.get("price")
    if isinstance(price, dict) and isinstance(price.get("assets"), dict):
        out["price"] = {**price, "assets": {
            k: anchored(v, "file") if isinstance(v, dict) else v
            for k, v in price["assets"].items()}}
    out.update(_anchor_books(out, anchored))
    protocols = out.get("protocols")
    if isinstance(protocols, list):
        # A further protocol's own book and perp book are files of the same scenario:
        # read from its folder too, whatever the working directory.
        out["protocols"] = [{**entry, **_anchor_books(entry, anchored)}
                            if isinstance(entry, dict) else entry for entry in protocols]
    return out


def _anchor_books(table: dict[str, Any], anchored: Callable[[dict[str, Any], str],
                                                            dict[str, Any]]
                  ) -> dict[str, Any]:
    """``book.file``, ``book.snapshot`` and ``perps.book.file`` of a scenario's table (the
    scenario itself or one of its ``[[protocols]]``), anchored; only the keys present."""
    out: dict[str, Any] = {}
    book = table.get("book")
    if isinstance(book, dict):
        out["book"] = anchored(anchored(book, "file"), "snapshot")
    perps = table.get("perps")
    if isinstance(perps, dict) and isinstance(perps.get("book"), dict):
        out["perps"] = {**perps, "book": anchored(perps["book"], "file")}
    return out
