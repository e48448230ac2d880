"""Scripted scenarios: a protocol, accounts and their actions, and a price path in steps.

Format (TOML)::

    name = "quickstart"
    description = "ETH falls 40% in steps"

    [protocol]                       # preset and per-market overrides (docs/formats.md)
    preset = "aave-v3"
    [protocol.markets.WETH]
    [protocol.markets.USDC]

    [prices]                         # initial prices, USD per whole token
    WETH = 2000
    USDC = 1

    [[accounts]]                     # opened in order: deposits, then borrows
    id = "alice"
    deposit = { WETH = 10 }
    borrow = { USDC = 12000 }

    [liquidator]                     # a keeper that liquidates whatever it may
    id = "keeper"
    max_per_account_per_step = 1

    [feeds.WETH]                     # how prices reach the engine (sim/feeds.py)
    kind = "push"                    # direct (default), push, delayed, anchored

    [[steps]]                        # each step: time passes, prices move, actions run,
    advance = "1h"                   # then the liquidator acts
    prices = { WETH = 1800 }
    actions = [{ type = "repay", account = "alice", asset = "USDC", amount = 500 }]
"""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator

from marginengine.config import (
    LiquidationMechanism,
    ProtocolConfig,
    protocol_from_dict,
    read_toml,
    validate_model,
)
from marginengine.config.amounts import HumanNumber, parse_asset_amounts, parse_positive
from marginengine.config.base import StrictModel
from marginengine.engine import Event
from marginengine.engine.events import MAX_VOL_PPM, MIN_VOL_PPM, SetVolSurface, Trade
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT
from marginengine.ledger import check_account_id
from marginengine.sim.actions import (
    ACTION_TYPES,
    ActionFields,
    ActionType,
    action_type,
    check_action,
    check_action_fields,
)
from marginengine.sim.durations import parse_duration as parse_duration  # re-exported
from marginengine.sim.feeds import FeedSpec
from marginengine.sim.options_scenario import OptionsSetup, OptionsSpec, options_setup, step_vols

if TYPE_CHECKING:
    import numpy as np

#: A scripted action as it runs: an engine event, or ``("borrow_max", account, asset, 0)``
#: (the amount is read from the engine at that moment).
ScriptedAction = Event | tuple[str, str, str, int]


class ActionSpec(ActionFields):
    """One scripted action of a step: an account's (``deposit``, ``withdraw``,
    ``borrow``, ``repay``, ``repay_with_atokens``: ``account``, ``asset``, ``amount``) or
    the pool configurator's (:data:`~marginengine.sim.actions.GOVERNANCE_ACTIONS`).

    ``borrow_max`` borrows as much of ``asset`` as initial margin allows at that moment
    (no ``amount``); its value counts in ``summary.json``'s ``borrowable_value``.
    """

    type: Literal[ActionType, "borrow_max"]

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: object) -> object:
        return action_type(value, (*ACTION_TYPES, "borrow_max"))


class AccountSpec(StrictModel):
    """An account opened before the first step: its deposits, its perp quote deposit
    (``quote``, whole quote tokens), then its borrows."""

    id: str
    deposit: dict[str, HumanNumber] = Field(default_factory=dict)
    quote: HumanNumber | None = None
    borrow: dict[str, HumanNumber] = Field(default_factory=dict)


class TradeSpec(StrictModel):
    """A perp trade: ``buyer`` buys ``size`` whole base tokens of ``market`` at ``price``."""

    buyer: str
    seller: str
    market: str
    size: HumanNumber
    price: HumanNumber


class StepSpec(StrictModel):
    """One step: advance the clock, set prices, run actions; then the liquidator acts."""

    advance: int | str = 0
    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    reporter: dict[str, HumanNumber] = Field(default_factory=dict)
    actions: list[ActionSpec] = Field(default_factory=list)
    trades: list[TradeSpec] = Field(default_factory=list)
    #: ATM vol per underlying for every expiry of ``[options]`` (SetVolSurface events).
    vols: dict[str, HumanNumber] = Field(default_factory=dict)
    label: str = ""

    # Before pydantic's own parsing, which would read ``true`` as 1 second.
    @field_validator("advance", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int:
        return parse_duration(value)


class LiquidatorSpec(StrictModel):
    """The scenario's keeper: liquidates (Aave) or absorbs and buys collateral (Comet)."""

    id: str = "keeper"
    enabled: bool = True
    max_per_account_per_step: int = Field(default=1, ge=1, le=100)
    receive_supply: bool = False
    buy_collateral: bool = True


class NoiseSpec(StrictModel):
    """A seeded perturbation of a scenario's explicit step prices (``[noise]``): what a
    Monte Carlo run of a scenario with explicit prices draws (docs/simulator.md).

    Each run multiplies the price an explicit step gives an asset by
    ``exp(sigma x z - sigma^2 / 2)`` (``independent``: a fresh normal ``z`` per step) or by
    the product of those factors over the steps so far (``walk``: the deviation persists
    and grows like a random walk); the ``- sigma^2 / 2`` keeps each factor's mean at 1.
    ``vol_sigma`` does the same to the ATM implied vols the steps of an options scenario
    give (``[[steps]] vols``), with the same ``kind``, from draws taken after the prices'
    (:meth:`Scenario.perturbed`); 0 (the default) leaves them, and every figure, as
    written.
    """

    kind: Literal["walk", "independent"] = "walk"
    #: Log-standard deviation per step, a fraction (0.02 is about 2% per step).
    sigma: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    #: The assets perturbed (default: every asset an explicit step prices).
    assets: list[str] = Field(default_factory=list)
    #: Log-standard deviation per step of the step vols' factors (0: vols as written).
    vol_sigma: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] = Decimal(0)


#: The kinds of scenario file (``kind`` at the top; absent means ``scripted``).
SCENARIO_KINDS = ("scripted", "cascade")

#: A run's name: letters, digits and ``_ . -``. It names the output folder
#: ``runs/<name>``, so :func:`check_run_name` also refuses names made only of dots.
RUN_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def check_run_name(value: str) -> str:
    """``value`` if it can name a folder under ``runs/`` (not ``.``, ``..``, ``...``)."""
    if value.strip(".") == "":
        raise ValueError(f"must not be made only of dots: it names the output folder "
                         f"runs/<name> (got {value!r})")
    return value


def infer_kind(data: dict[str, Any]) -> str:
    """The kind a scenario's content makes it when ``kind`` is absent: ``cascade`` when
    its prices come from a model (a ``[price]`` table, a ``[book]``, or ``steps`` given as
    a count), else ``scripted`` (explicit prices in ``[[steps]]``)."""
    steps = data.get("steps")
    counted = isinstance(steps, int) and not isinstance(steps, bool)
    return "cascade" if "price" in data or "book" in data or counted else "scripted"


def scenario_kind(data: dict[str, Any], source: str | None = None) -> str:
    """The scenario's ``kind``: as given, or inferred from its content
    (:func:`infer_kind`); raises :class:`ConfigError` naming ``kind`` and the kinds there
    are when it is anything else."""
    if "kind" not in data:
        return infer_kind(data)
    kind = data["kind"]
    if kind not in SCENARIO_KINDS:
        raise ConfigError([f"kind: unknown kind {kind!r} (kinds: {', '.join(SCENARIO_KINDS)};"
                           " or omit it: [price] makes a cascade, explicit [[steps]] a "
                           "scripted scenario)"], source=source)
    return str(kind)


class ScenarioFile(StrictModel):
    """A scripted scenario file (see the module docstring)."""

    kind: Literal["scripted"] = "scripted"
    name: str = Field(default="scenario", pattern=RUN_NAME_PATTERN)
    description: str = ""
    protocol: dict[str, Any] = Field(default_factory=lambda: {"preset": "aave-v3"})
    prices: dict[str, HumanNumber]
    accounts: list[AccountSpec] = Field(default_factory=list)
    trades: list[TradeSpec] = Field(default_factory=list)
    insurance: dict[str, HumanNumber] = Field(default_factory=dict)
    liquidator: LiquidatorSpec = LiquidatorSpec()
    feeds: dict[str, FeedSpec] = Field(default_factory=dict)
    #: An options book and the portfolio-auction bidder (sim/options_scenario.py).
    options: OptionsSpec | None = None
    steps: list[StepSpec] = Field(default_factory=list)
    #: The one schema's fields (docs/simulator.md): the seed of Monte Carlo runs, the
    #: perturbation they draw, and the asset the series' price columns follow (default:
    #: the first asset an explicit step prices). ``[monte_carlo]`` is read by the one
    #: loader (sim/schema.py), with the cascade's model.
    seed: int = Field(default=1, ge=0)
    noise: NoiseSpec | None = None
    headline: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_run_name(value)


class Scenario:
    """A validated scenario with its amounts converted to exact ints.

    Attributes
    ----------
    spec
        The file as validated.
    protocol
        The protocol it runs.
    prices
        Initial prices (8-decimal ints).
    accounts
        ``(id, deposits, borrows)`` in smallest units.
    steps
        ``(seconds, prices, actions)`` with each action an engine event, or
        ``("borrow_max", account, asset, 0)``.
    """

    def __init__(self, spec: ScenarioFile, source: str | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.protocol: ProtocolConfig = protocol_from_dict(spec.protocol, source, "protocol")
        problems: list[str] = []
        cfg = self.protocol
        self.prices = parse_asset_amounts(spec.prices, cfg, "prices", problems, prices=True)
        for asset in sorted({*cfg.markets, *cfg.perps} - set(spec.prices)):
            problems.append(f"prices.{asset}: missing (every market needs an initial price)")
        quote_asset = next(iter({p.quote for p in cfg.perps.values()}), "")
        self.quotes: list[tuple[str, int]] = []
        for i, acct in enumerate(spec.accounts):
            if acct.quote is None:
                continue
            if not quote_asset:
                problems.append(f"{field_path('accounts', i, 'quote')}: the protocol has no perp "
                                "markets")
                continue
            amount = parse_positive(acct.quote, cfg.markets[quote_asset].decimals,
                                    field_path("accounts", i, "quote"), problems)
            if amount is not None:
                self.quotes.append((acct.id, amount))
        self.insurance: list[tuple[str | None, int]] = []
        for key, raw in spec.insurance.items():
            if key != "shared" and key not in cfg.perps:
                problems.append(f"insurance.{key}: must be 'shared' or a perp market")
                continue
            if not quote_asset:
                problems.append(f"insurance.{key}: the protocol has no perp markets")
                continue
            amount = parse_positive(raw, cfg.markets[quote_asset].decimals,
                                    f"insurance.{key}", problems)
            if amount is not None:
                self.insurance.append((None if key == "shared" else key, amount))
        self.trades = self._trades(spec.trades, "trades", problems)
        self.accounts: list[tuple[str, dict[str, int], dict[str, int]]] = []
        for i, acct in enumerate(spec.accounts):
            where = field_path("accounts", i)
            self._check_id(acct.id, f"{where}.id", problems)
            self.accounts.append((
                acct.id,
                parse_asset_amounts(acct.deposit, cfg, f"{where}.deposit", problems),
                parse_asset_amounts(acct.borrow, cfg, f"{where}.borrow", problems),
            ))
        ids = [a[0] for a in self.accounts]
        for dup in sorted({x for x in ids if ids.count(x) > 1}):
            problems.append(f"accounts: duplicate account id {dup!r}")
        self._check_id(spec.liquidator.id, "liquidator.id", problems)
        for asset in sorted(set(spec.feeds) - {*cfg.markets, *cfg.perps}):
            problems.append(f"feeds.{asset}: unknown asset (markets: "
                            f"{', '.join(sorted(cfg.markets))})")
        self.options: OptionsSetup | None = (
            options_setup(spec.options, cfg, problems) if spec.options is not None else None)
        self.step_vols: list[list[SetVolSurface]] = []
        self.reporter: list[dict[str, int]] = []
        self.step_trades: list[list[Trade]] = []
        self.steps: list[tuple[int, dict[str, int], list[ScriptedAction]]] = []
        for i, step in enumerate(spec.steps):
            where = field_path("steps", i)
            prices = parse_asset_amounts(step.prices, cfg, f"{where}.prices", problems,
                                         prices=True)
            self.reporter.append(parse_asset_amounts(step.reporter, cfg, f"{where}.reporter",
                                                     problems, prices=True))
            actions: list[ScriptedAction] = []
            for j, act in enumerate(step.actions):
                at = field_path(where, "actions", j)
                if act.type == "borrow_max":
                    if check_action_fields(act, act.type, at, cfg, problems):
                        actions.append(("borrow_max", str(act.account), str(act.asset), 0))
                    continue
                event = check_action(act, act.type, at, cfg, problems)
                if event is not None:
                    actions.append(event)
            assert isinstance(step.advance, int)
            self.steps.append((step.advance, prices, actions))
            self.step_trades.append(self._trades(step.trades, f"{where}.trades", problems))
            self.step_vols.append(step_vols(step.vols, self.options, f"{where}.vols",
                                            problems))
        if cfg.rules.liquidation is LiquidationMechanism.CLOSE_FACTOR:
            self._liquidator_debt(spec, problems)
        known = {*cfg.markets, *cfg.perps}
        if spec.headline and spec.headline not in known:
            problems.append(f"headline: unknown asset {spec.headline!r} (markets: "
                            f"{', '.join(sorted(known))})")
        stepped = self.stepped_assets()
        if spec.noise is not None:
            for j, asset in enumerate(spec.noise.assets):
                if asset not in stepped:
                    problems.append(f"{field_path('noise.assets', j)}: {asset!r} has no "
                                    "explicit step price to perturb (priced in steps: "
                                    f"{', '.join(stepped) or 'none'})")
            if not stepped:
                problems.append("noise: no step gives a price, so there is nothing to "
                                "perturb")
            if spec.noise.vol_sigma > 0 and not self.vol_underlyings():
                problems.append("noise.vol_sigma: no step gives vols ([[steps]] vols of "
                                "an [options] scenario), so there is no vol to perturb")
        if problems:
            raise ConfigError(problems, source=source)

    def stepped_assets(self) -> list[str]:
        """The assets some explicit step prices, in the order they first appear."""
        seen: dict[str, None] = {}
        for step in self.spec.steps:
            for asset in step.prices:
                seen.setdefault(asset, None)
        return list(seen)

    def vol_underlyings(self) -> list[str]:
        """The underlyings whose ATM vol some step sets (``[[steps]] vols``), by name."""
        return sorted({vol.underlying for step in self.step_vols for vol in step})

    @property
    def headline(self) -> str:
        """The asset the series' price columns follow: ``headline``, else the first asset
        an explicit step prices, else the first market by name."""
        if self.spec.headline:
            return self.spec.headline
        stepped = self.stepped_assets()
        return stepped[0] if stepped else min(self.protocol.markets)

    def perturbed(self, rng: np.random.Generator) -> Scenario:
        """A copy whose explicit step prices are drawn from ``[noise]`` with ``rng``.

        The draws: one ``rng.standard_normal((steps, assets))`` matrix, a row per step and
        a column per perturbed asset (``noise.assets``, else every asset a step prices,
        sorted by name), drawn whether or not the step prices that asset, so a step's
        factors do not depend on which later steps give prices. A perturbed price is the
        float product fixed to 8 decimals, rounded to nearest, at least one unit
        (:func:`marginengine.sim.joint.fix_price`). Initial ``[prices]`` and ``reporter``
        prints are left as written (the book opens at the prices it was written for).
        Without ``[noise]`` the scenario itself is returned.

        With ``noise.vol_sigma > 0``, then (after the price matrix, so the prices' draws
        are the same whatever ``vol_sigma``): one ``rng.standard_normal((steps,
        underlyings))`` matrix, a column per underlying some step sets vols for, sorted by
        name, drawn at every step; the factors are the prices' (``exp(vol_sigma x z -
        vol_sigma^2 / 2)``, accumulated for ``walk``), and a step's ATM vol of every
        expiry of that underlying becomes ``vol_ppm x factor`` rounded to the nearest ppm,
        within the surface's bounds (1%..1000%, ``MIN_VOL_PPM``, ``MAX_VOL_PPM``); skews
        and the ``[options]`` surfaces at the start stay as written. With ``vol_sigma =
        0`` nothing more is drawn.
        """
        noise = self.spec.noise
        if noise is None:
            return self
        import numpy as np

        from marginengine.sim.joint import fix_price

        def factors_of(sigma: float, columns: int) -> np.ndarray:
            z = rng.standard_normal((len(self.steps), columns))
            logs = sigma * z - sigma * sigma / 2
            if noise.kind == "walk":
                logs = np.cumsum(logs, axis=0)
            return np.exp(logs)

        assets = sorted(noise.assets or self.stepped_assets())
        factors = factors_of(float(noise.sigma), len(assets))
        out = copy.copy(self)
        if noise.vol_sigma > 0:
            underlyings = self.vol_underlyings()
            vol_factors = factors_of(float(noise.vol_sigma), len(underlyings))
            column = {u: k for k, u in enumerate(underlyings)}
            out.step_vols = [
                [replace(vol, vol_ppm=perturbed_vol_ppm(
                    vol.vol_ppm, float(vol_factors[i, column[vol.underlying]])))
                 for vol in vols]
                for i, vols in enumerate(self.step_vols)]
        out.steps = []
        for i, (seconds, prices, actions) in enumerate(self.steps):
            moved = dict(prices)
            for k, asset in enumerate(assets):
                if asset in moved:
                    moved[asset] = fix_price(moved[asset] / PRICE_UNIT * float(factors[i, k]))
            out.steps.append((seconds, moved, actions))
        return out

    def _trades(self, specs: list[TradeSpec], path: str, problems: list[str]) -> list[Trade]:
        out = []
        for i, t in enumerate(specs):
            where = field_path(path, i)
            self._check_id(t.buyer, f"{where}.buyer", problems)
            self._check_id(t.seller, f"{where}.seller", problems)
            perp = self.protocol.perps.get(t.market)
            if perp is None:
                problems.append(f"{where}.market: unknown perp market {t.market!r}")
                continue
            size = parse_positive(t.size, perp.base_decimals, f"{where}.size", problems)
            price = parse_positive(t.price, PRICE_DECIMALS, f"{where}.price", problems)
            if size is not None and price is not None:
                out.append(Trade(t.buyer, t.seller, t.market, size, price))
        return out

    @staticmethod
    def _liquidator_debt(spec: ScenarioFile, problems: list[str]) -> None:
        """Under Aave's liquidationCall the liquidator may hold an account (a lender, a
        perp keeper's quote), but not owe: no account can liquidate itself (Aave v3's
        ``ValidationLogic.validateLiquidationCall``: ``SelfLiquidation``), and the scenario
        has no other liquidator, so its debt would never be liquidated, whatever its
        health. (Comet's absorb takes any absorber.)"""
        ident = spec.liquidator.id
        where = next((field_path("accounts", i, "borrow") for i, a in enumerate(spec.accounts)
                      if a.id == ident and a.borrow), None)
        if where is None:
            where = next((field_path("steps", i, "actions", j)
                          for i, step in enumerate(spec.steps)
                          for j, act in enumerate(step.actions)
                          if act.account == ident and act.type in ("borrow", "borrow_max")),
                         None)
        if where is not None:
            problems.append(f"liquidator.id: {ident!r} borrows ({where}): nobody could "
                            "liquidate it (an account cannot liquidate itself); give the "
                            "liquidator an id of its own")

    @staticmethod
    def _check_id(account_id: str, where: str, problems: list[str]) -> None:
        try:
            check_account_id(account_id, where)
        except ValueError as exc:
            problems.append(str(exc))


def perturbed_vol_ppm(vol_ppm: int, factor: float) -> int:
    """``vol_ppm x factor`` rounded to the nearest ppm, within the surface's bounds
    (``MIN_VOL_PPM``..``MAX_VOL_PPM``: 1%..1000%), as ``[noise] vol_sigma`` moves a vol."""
    return min(MAX_VOL_PPM, max(MIN_VOL_PPM, round(vol_ppm * factor)))


def scenario_from_dict(data: dict[str, Any], source: str | None = None) -> Scenario:
    """Validate a scenario given as plain data."""
    return Scenario(validate_model(ScenarioFile, data, source=source), source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    return scenario_from_dict(read_toml(path), source=str(path))
