"""The path from today's parameters to a recommendation in steps the Risk Stewards accept.

Each step proposes every remaining change at once to
:func:`marginengine.margin.stewards.clamp_updates` (default bounds of
:class:`marginengine.config.stewards.StewardBounds`: 0.5 percentage point per update of LTV,
threshold and bonus, 30% of a cap, 3 days apart), moves that lower risk first (LTV,
threshold, bonus and caps going down before anything goes up), so the consistency checks
(LTV <= threshold, threshold x (1 + bonus) <= 100%) hold at every step. A step that lowers
a liquidation threshold lists the accounts it makes liquidatable on the scenario's book at
step 0 (run 0's draw of a synthetic book): for a single-collateral book by
:func:`marginengine.margin.stewards.newly_liquidatable` (the rule the stewards' proposals
use); for a book of several assets by the engine's own margin rule
(:class:`marginengine.margin.account.AccountMarginModel` over the protocol with the step's
parameters in force, as ``SetRiskParams`` lists them), at step 0's prices. Variables the
stewards do not bound (close factor, auction curves, model parameters) change in one
governance step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from marginengine.config import ProtocolConfig
from marginengine.config.stewards import ParamName, StewardBounds
from marginengine.ledger import Ledger
from marginengine.margin.account import AccountMarginModel, Valuation
from marginengine.margin.adaptive_model import MarketParams, config_with_params
from marginengine.margin.crowding import BookAccount
from marginengine.margin.stewards import Key, ProposedUpdate, clamp_updates, newly_liquidatable

#: Steps after which a path that has not arrived is reported as stuck.
MAX_STEPS = 400
BPS_PARAMS = ("ltv", "liquidation_threshold", "liquidation_bonus")
#: The order of one step's updates going down, and going up.
LOWER_FIRST: tuple[ParamName, ...] = ("ltv", "liquidation_bonus", "liquidation_threshold",
                                      "supply_cap", "borrow_cap")
RAISE_FIRST = ("liquidation_threshold", "ltv", "liquidation_bonus", "supply_cap", "borrow_cap")


def steward_key(path: str) -> Key | None:
    """``(asset, param)`` when ``path`` is a steward-bounded market parameter."""
    parts = path.split(".")
    if len(parts) == 4 and parts[0] == "protocol" and parts[1] == "markets" \
            and parts[3] in LOWER_FIRST:  # a lending market's (not a perp's fractions)
        return parts[2], LOWER_FIRST[LOWER_FIRST.index(parts[3])]  # typed as a ParamName
    return None


def to_steward_units(param: str, value: Any) -> int:
    """A config value in the stewards' units: bps for LTV, threshold and bonus (the bonus
    as the part above 100%), whole tokens for caps (rounded down)."""
    d = Decimal(str(value))
    return int(d * 10_000) if param in BPS_PARAMS else int(d)


def from_steward_units(param: str, value: int) -> float:
    """Back to the config's units (fractions for bps)."""
    return value / 10_000 if param in BPS_PARAMS else float(value)


@dataclass(frozen=True)
class Book:
    """The book at step 0 for :func:`newly_liquidatable`: one collateral asset."""

    asset: str
    ids: tuple[str, ...]
    accounts: tuple[BookAccount, ...]
    price: int
    unit: int


@dataclass(frozen=True)
class LedgerBook:
    """The book at step 0 as the engine holds it, any number of collateral and debt assets.

    Attributes
    ----------
    config
        The protocol as the scenario configures it (today's parameters).
    ledger
        The engine's ledger right after set-up.
    prices
        The oracle prices at step 0 (base currency, 8 decimals).
    ids
        The borrowers (accounts with debt), sorted.
    """

    config: ProtocolConfig
    ledger: Ledger
    prices: dict[str, int]
    ids: tuple[str, ...]

    def liquidatable(self, params: Mapping[Key, int]) -> dict[str, int]:
        """Borrowers liquidatable with ``params`` (steward units, by ``(asset, param)``) in
        force, with their debt value (base currency, 8 decimals)."""
        config = self.config
        for asset in sorted({a for a, _ in params}):
            market = MarketParams(params[(asset, "ltv")],
                                  params[(asset, "liquidation_threshold")],
                                  params[(asset, "liquidation_bonus")])
            config = config_with_params(config, asset, market)
        model = AccountMarginModel(config)
        valuation = Valuation(self.prices)
        return {a: model.lending.account_data(self.ledger, self.prices, a).total_debt
                for a in self.ids if model.is_liquidatable(self.ledger, valuation, a)}


def book_at_start(data: dict[str, Any], seed: int) -> Book | LedgerBook:
    """Run 0's book right after set-up (through the simulator's own runner): a
    :class:`Book` for a single-collateral book, a :class:`LedgerBook` for one of several
    assets."""
    from marginengine.sim.cascade import CascadeRunner, scenario_spec
    from marginengine.sim.pipeline import child_seed

    spec, protocol = scenario_spec(data)
    child = child_seed(seed, 0)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(child))
    runner.setup()
    engine = runner.engine
    if spec.book.multi():
        borrowers = tuple(a for a in runner.borrowers if engine.account_data(a).total_debt)
        book = LedgerBook(protocol, engine.ledger, dict(engine.prices), borrowers)
        engine.close()
        return book
    asset = spec.price.asset
    lt = protocol.markets[asset].liquidation_threshold_bps
    ids: list[str] = []
    accounts: list[BookAccount] = []
    for account in runner.borrowers:
        debt = engine.account_data(account).total_debt
        if debt == 0:
            continue
        ids.append(account)
        accounts.append(BookAccount(engine.ledger.supply_of(account, asset), debt, lt))
    price = engine.prices[asset]
    engine.close()
    return Book(asset, tuple(ids), tuple(accounts), price, protocol.markets[asset].unit)


def steward_path(current: Mapping[str, Any], target: Mapping[str, Any],
                 context: Mapping[Key, int], book: Book | LedgerBook | None,
                 bounds: StewardBounds | None = None) -> dict[str, Any]:
    """The steps from ``current`` to ``target`` (both by scenario path).

    Parameters
    ----------
    current, target
        Each variable's value today and in the recommendation.
    context
        Today's LTV, threshold and bonus (steward units) of every asset a variable touches,
        for the consistency checks.
    book
        The book for the accounts each step makes liquidatable (``None``: not listed).
    bounds
        The stewards' bounds (default: :class:`StewardBounds`).

    Returns
    -------
    dict
        ``steps``: one dict per step (``day``, ``changes``: path -> ``[from, to]``,
        ``newly_liquidatable``: ids, ``debt_usd``); ``bounded``: the variables the
        stewards bound (sorted paths; empty when none is, e.g. an options book's
        portfolio-margin factors, and then ``steps`` is empty and says nothing);
        ``unbounded``: variables set in one governance step; ``arrived``; ``days``;
        ``note``.
    """
    bounds = bounds or StewardBounds()
    values: dict[Key, int] = dict(context)
    goal: dict[Key, int] = {}
    paths: dict[Key, str] = {}
    unbounded = {}
    for path, value in target.items():
        key = steward_key(path)
        if key is None:
            if current.get(path) != value:
                unbounded[path] = [_plain(current.get(path)), _plain(value)]
            continue
        paths[key] = path
        goal[key] = to_steward_units(key[1], value)
        values.setdefault(key, to_steward_units(key[1], current[path]))
    delay = max((bounds.bound(k[1]).min_delay_seconds for k in goal), default=0)
    steps: list[dict[str, Any]] = []
    last: dict[Key, int] = {}
    time = 0
    note = ""
    while any(values[k] != goal[k] for k in goal):
        if len(steps) >= MAX_STEPS:
            note = f"not arrived after {MAX_STEPS} steps"
            break
        pending = [k for k in goal if values[k] != goal[k]]
        # Risk down first, so LTV <= threshold and threshold x (1 + bonus) <= 1 hold at
        # every update: lowering, LTV and bonus before the threshold; raising, the
        # threshold before LTV and bonus.
        pending.sort(key=lambda k: (goal[k] > values[k],
                                    (LOWER_FIRST if goal[k] < values[k] else RAISE_FIRST)
                                    .index(k[1]), paths[k]))
        proposals = [ProposedUpdate(k[0], k[1], goal[k], time) for k in pending]
        decisions, new_values, last = clamp_updates(values, proposals, bounds, last)
        changes = {paths[(d.proposal.asset, d.proposal.param)]:
                   [from_steward_units(d.proposal.param, d.previous),
                    from_steward_units(d.proposal.param, d.value)]
                   for d in decisions if d.applied}
        if not changes:
            codes = sorted({d.code for d in decisions})
            note = f"stuck: every update refused ({', '.join(codes)})"
            break
        step: dict[str, Any] = {"day": time / 86_400, "changes": changes}
        if isinstance(book, LedgerBook):
            lowered = any(k[1] == "liquidation_threshold" and new_values[k] < values[k]
                          for k in goal)
            made: dict[str, int] = {}
            if lowered:
                before = book.liquidatable(values)
                made = {a: d for a, d in book.liquidatable(new_values).items()
                        if a not in before}
            step["newly_liquidatable"] = sorted(made)
            step["debt_usd"] = sum(made.values()) / 1e8
        elif book is not None:
            key = (book.asset, "liquidation_threshold")
            if key in goal and new_values[key] < values[key]:
                today = [BookAccount(a.collateral, a.debt_value, values[key])
                         for a in book.accounts]
                impact = newly_liquidatable(today, book.price, book.unit, new_values[key])
                step["newly_liquidatable"] = [book.ids[i] for i in impact.accounts]
                step["debt_usd"] = impact.total_debt / 1e8
            else:
                step["newly_liquidatable"] = []
                step["debt_usd"] = 0.0
        steps.append(step)
        values = new_values
        time += delay
    arrived = all(values[k] == goal[k] for k in goal)
    return {"steps": steps, "bounded": sorted(paths.values()), "unbounded": unbounded,
            "arrived": arrived,
            "days": (len(steps) - 1) * delay / 86_400 if steps else 0.0, "note": note}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value
