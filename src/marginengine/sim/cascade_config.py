"""The cascade scenario file (``kind = "cascade"``): validated with pydantic.

A cascade scenario drives the engine through time with an exogenous price path, a
liquidity venue, an oracle, gas, keepers and (optionally) auctions. See
``docs/simulator.md`` for the order of work within a step and every field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from marginengine.config.base import StrictModel

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class PriceSpec(StrictModel):
    """The exogenous price path of the collateral (``asset``) in USD."""

    asset: str = "WETH"
    process: Literal["replay", "gbm", "jump", "ou", "bridge", "crash", "path"] = "gbm"
    file: str = ""                         # replay: a 10-minute OHLCV JSON (repo-relative)
    path: list[Positive] = Field(default_factory=list)  # path: prices per step, last held
    field: str = "price_close"
    s0: Positive = Decimal(2000)
    mu: Decimal = Decimal(0)
    sigma: NonNegative = Decimal("0.8")     # yearly
    jump_intensity: NonNegative = Decimal(0)  # per year
    jump_mean: Decimal = Decimal(0)         # log size
    jump_std: NonNegative = Decimal(0)
    theta: NonNegative = Decimal(0)         # OU speed (per year)
    end: Positive = Decimal(1000)           # bridge target
    crash_at: int = Field(default=0, ge=0)  # crash: step of a k-sigma drop
    crash_k_sigma: NonNegative = Decimal(0)
    vol_scale: Positive = Decimal(1)


class VenueSpec(StrictModel):
    """Where liquidated collateral is sold; arbitrage pulls it toward the external price."""

    kind: Literal["amm", "depth"] = "amm"
    base_reserve: Positive = Decimal(50_000)      # whole collateral tokens (amm)
    fee_bps: int = Field(default=30, ge=0, le=1000)
    depth_at_1pct: Positive = Decimal(2_000)      # whole tokens sellable within 1% (depth)
    exponent: Annotated[Decimal, Field(gt=0, le=4, multiple_of=Decimal("0.05"))] = Decimal(1)
    resilience: Fraction = Decimal("0.3")
    arbitrage_speed: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")
    feedback: bool = True                          # liquidation sales trade on the venue


class OracleSpec(StrictModel):
    """How the engine sees the collateral price."""

    kind: Literal["direct", "osm", "venue", "push"] = "direct"
    hop: int = Field(default=3600, gt=0)           # osm
    twap_window: int = Field(default=0, ge=0)      # venue: 0 = spot
    deviation: Fraction = Decimal("0.005")         # push
    heartbeat: int = Field(default=3600, gt=0)


class GasSpec(StrictModel):
    """Gas price (gwei) per step and gas used per keeper action."""

    kind: Literal["constant", "replay", "process"] = "constant"
    gwei: Positive = Decimal(20)
    file: str = ""
    field: str = "90.0 Perc"
    vol_sensitivity: NonNegative = Decimal(1)
    noise: NonNegative = Decimal("0.1")
    cap_gwei: Positive | None = None
    gas_used: dict[str, int] = Field(default_factory=lambda: {
        "liquidate": 300_000, "bark": 400_000, "take": 250_000, "redo": 150_000,
        "tend": 150_000, "dent": 150_000, "deal": 100_000, "absorb": 300_000,
        "liquidate_perp": 300_000,
    })


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


class BookSpec(StrictModel):
    """A synthetic book of vaults/borrowers: lognormal sizes and collateralization."""

    accounts: int = Field(default=200, ge=1, le=2_000_000)
    total_debt: Positive = Decimal(10_000_000)     # USD
    whales: int = Field(default=3, ge=0)
    whale_share: Fraction = Decimal("0.3")         # of total debt held by the whales
    collateralization_median: Positive = Decimal("2.2")   # collateral value / debt
    collateralization_sigma: NonNegative = Decimal("0.35")
    min_collateralization: Positive = Decimal("1.55")
    debt_asset: str = "DAI"
    collateral_asset: str = "WETH"


class MonteCarloSpec(StrictModel):
    """Monte Carlo settings (``simulate`` runs N paths when ``runs > 1``)."""

    runs: int = Field(default=1, ge=1, le=100_000)
    backend: Literal["process", "dask"] = "process"
    workers: int = Field(default=2, ge=1, le=256)
    keep_traces: bool = False


class CascadeFile(StrictModel):
    """A cascade scenario file."""

    kind: Literal["cascade"]
    name: str = Field(default="cascade", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = ""
    seed: int = Field(default=1, ge=0)
    steps: int = Field(default=144, ge=1, le=1_000_000)
    step_seconds: int = Field(default=600, gt=0)
    protocol: dict[str, Any] = Field(default_factory=lambda: {"preset": "aave-v3"})
    prices: dict[str, Any] = Field(default_factory=dict)   # other assets' constant prices
    price: PriceSpec = PriceSpec()
    venue: VenueSpec = VenueSpec()
    oracle: OracleSpec = OracleSpec()
    gas: GasSpec = GasSpec()
    keepers: list[KeeperSpec] = Field(default_factory=lambda: [KeeperSpec(id="keeper")])
    book: BookSpec = BookSpec()
    accounts: list[dict[str, Any]] = Field(default_factory=list)  # explicit, as scripted
    monte_carlo: MonteCarloSpec = MonteCarloSpec()
    liquidity: dict[str, Any] = Field(default_factory=dict)  # lender deposits per asset

    @model_validator(mode="after")
    def _keepers(self) -> CascadeFile:
        ids = [k.id for k in self.keepers]
        if len(set(ids)) != len(ids):
            raise ValueError("keepers: ids must be unique")
        return self
