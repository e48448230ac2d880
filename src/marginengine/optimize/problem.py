"""The optimization problem: decision variables, metrics, objectives and constraints.

The scenario is a cascade scenario (a price model), or a scripted one (explicit prices,
an options book with ``[options]``) whose ``[noise]`` makes its runs random: both run
through the one pipeline (:func:`marginengine.sim.montecarlo.run_one`).

A decision variable is any numeric field of the scenario, named by its dotted path as
``--set`` names it (``protocol.markets.WETH.ltv``, ``price.sigma``, ``keepers.0.latency``;
for an options book ``protocol.options.portfolio_margin.mm_factor`` and the other
parameters of the portfolio preset, ``protocol.options.auction.*``,
``options.security_module``, ``noise.sigma``, ``steps.4.prices.WETH``), with a range:
``PATH=LOW:HIGH`` (continuous) or ``PATH=LOW:HIGH:STEP`` (the grid ``LOW, LOW + STEP,
...`` up to ``HIGH``, in exact decimal arithmetic, so basis points stay basis points).
A candidate is the scenario with every variable overridden
(:func:`marginengine.sim.apply_overrides`); it is *infeasible* when the scenario's own
validation refuses it (LTV at or above the threshold, threshold x (1 + bonus) above 1, a
fraction that is not whole basis points, an IM factor below PMRM_2's 0.5, ...): the
protocol's constraints are the config validator's, never restated here.

Metrics are estimates over the Monte Carlo runs of a candidate
(:func:`marginengine.sim.montecarlo.estimators`), each maximized or minimized; the
metrics of an options book (``needs = "options"``) read its run fields
(:mod:`marginengine.sim.options_metrics`) and apply to scenarios with one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel

from marginengine.errors import ConfigError, MarginEngineError

#: Most grid points a variable may have (beyond that, give no STEP: it is continuous).
MAX_GRID = 10**9


class OptimizeInputError(MarginEngineError):
    """A flag or argument of the optimizer is invalid (the message names it and why)."""


@dataclass(frozen=True)
class Metric:
    """A metric: the Monte Carlo estimate it reads, its sense, unit and meaning."""

    name: str
    estimate: str
    sense: Literal["max", "min"]
    unit: str
    meaning: str
    #: What the scenario must have for the metric to mean anything (``"options"``: an
    #: options book), or ``None``: every scenario.
    needs: Literal["options"] | None = None


#: Every metric the optimizer knows, by name.
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("borrowing_power", "mean_borrowing_power", "max", "USD",
           "what the book's collateral lets it borrow (collateral after LTV weights)"),
    Metric("borrow_usage", "mean_borrow_usage", "max", "fraction",
           "debt the book carries over its borrowing power at step 0 (as the backtest's)"),
    Metric("demand_served", "mean_demand_served", "max", "fraction",
           "share of the book's borrow demand the parameters admit"),
    Metric("var95_bad_debt", "var95_bad_debt", "min", "USD",
           "95th percentile of bad debt over the runs"),
    Metric("es99_bad_debt", "es99_bad_debt", "min", "USD",
           "mean bad debt of the worst 1% of runs"),
    Metric("lar95", "lar95", "min", "USD", "95th percentile of liquidated value"),
    Metric("liquidated_value", "mean_liquidated_value", "min", "USD",
           "mean debt liquidated per run"),
    Metric("borrower_loss", "mean_borrower_loss", "min", "USD",
           "mean loss of liquidated borrowers per run (bonus and auction discount)"),
    Metric("mean_bad_debt", "mean_bad_debt", "min", "USD", "mean bad debt per run"),
    Metric("p_bad_debt", "p_bad_debt", "min", "fraction", "share of runs with bad debt"),
    # An options book (sim/options_metrics.py); the bad-debt metrics above include its
    # socialized loss (summary bad_debt).
    Metric("options_leverage", "mean_options_leverage", "max", "x",
           "capital efficiency of the options book after set-up: the notional of the "
           "positions held (|size| x spot, both sides) per USD of initial margin the "
           "portfolio rule requires of them (options_initial_margin); 0 without margin",
           "options"),
    Metric("options_initial_margin", "mean_options_initial_margin", "min", "USD",
           "initial margin the portfolio rule requires of the options book after set-up: "
           "MtM - IM summed over the accounts holding options (a trade the rule refuses "
           "lowers it too: read it with options_trades_accepted)", "options"),
    Metric("options_trades_accepted", "mean_options_trades_accepted", "max", "fraction",
           "share of the opening option trades the portfolio rule admits", "options"),
    Metric("options_bad_debt", "mean_options_bad_debt", "min", "USD",
           "mean socialized loss of the options clearing per run (what the security "
           "module could not pay the bidders of insolvent auctions)", "options"),
    Metric("security_module_used", "mean_options_security_module_used", "min", "USD",
           "mean security module (insurance fund) drawn per run", "options"),
    Metric("options_auctions", "mean_options_auctions_started", "min", "count",
           "mean portfolio auctions started per run", "options"),
    Metric("options_insolvent_auctions", "mean_options_auctions_insolvent", "min", "count",
           "mean portfolio auctions started insolvent per run", "options"),
    Metric("options_liquidations", "mean_options_bids", "min", "count",
           "mean portfolio-auction bids (partial liquidations of portfolios) per run",
           "options"),
)}

#: The frontier's axes when the objectives do not name them.
DEFAULT_EFFICIENCY = "borrowing_power"
DEFAULT_TAIL = "es99_bad_debt"
#: The efficiency axis of a scenario with an options book.
DEFAULT_OPTIONS_EFFICIENCY = "options_leverage"


def metric(name: str, flag: str) -> Metric:
    """The metric called ``name``; :class:`OptimizeInputError` naming ``flag`` if none."""
    found = METRICS.get(name.strip())
    if found is None:
        raise OptimizeInputError(f"{flag} {name!r}: unknown metric (metrics: "
                                 f"{', '.join(METRICS)})")
    return found


@dataclass(frozen=True)
class Constraint:
    """``metric <= limit`` or ``metric >= limit``."""

    metric: Metric
    op: Literal["<=", ">="]
    limit: float

    @property
    def text(self) -> str:
        """As written on the command line."""
        return f"{self.metric.name}{self.op}{self.limit:g}"

    def violation(self, value: float) -> float:
        """How far ``value`` is beyond the limit, relative to ``max(|limit|, 1)``; 0 when
        the constraint holds."""
        gap = value - self.limit if self.op == "<=" else self.limit - value
        return max(0.0, gap) / max(abs(self.limit), 1.0)

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies it."""
        return value <= self.limit if self.op == "<=" else value >= self.limit


def parse_constraint(text: str) -> Constraint:
    """``METRIC<=VALUE`` or ``METRIC>=VALUE``."""
    for op in ("<=", ">="):
        if op in text:
            name, _, raw = text.partition(op)
            found = metric(name, f"--constraint {text!r}:")
            try:
                limit = float(raw.strip().replace("_", ""))
            except ValueError:
                raise OptimizeInputError(f"--constraint {text!r}: {raw.strip()!r} is not a "
                                         "number") from None
            if not math.isfinite(limit):
                raise OptimizeInputError(f"--constraint {text!r}: the limit must be finite")
            return Constraint(found, op, limit)
    raise OptimizeInputError(f"--constraint {text!r}: must be METRIC<=VALUE or "
                             "METRIC>=VALUE (e.g. es99_bad_debt<=250000)")


@dataclass(frozen=True)
class Param:
    """A decision variable.

    Attributes
    ----------
    path
        The scenario path it overrides.
    low, high
        Its range, inclusive.
    step
        The grid's step, or ``None`` for a continuous variable.
    integer
        Whether its values are ints (``LOW``, ``HIGH`` and ``STEP`` all written as ints).
    """

    path: str
    low: Decimal
    high: Decimal
    step: Decimal | None
    integer: bool

    @property
    def points(self) -> int:
        """Grid points (0 for a continuous variable)."""
        if self.step is None:
            return 0
        return int((self.high - self.low) // self.step) + 1

    def grid_value(self, k: int) -> Decimal:
        """The ``k``-th grid value, exact."""
        assert self.step is not None
        return self.low + self.step * k

    def value(self, u: float) -> Decimal | float | int:
        """The value at a position ``u`` in ``[0, 1]`` of the range (snapped to the grid)."""
        if self.step is None:
            return float(self.low) + u * float(self.high - self.low)
        k = min(self.points - 1, max(0, round(u * (self.points - 1))))
        return self.cast(self.grid_value(k))

    def position(self, value: Decimal | float | int) -> float:
        """Where ``value`` lies in ``[0, 1]`` of the range."""
        width = float(self.high - self.low)
        return 0.0 if width == 0 else (float(value) - float(self.low)) / width

    def cast(self, value: Decimal) -> Decimal | int:
        """A grid value as the variable's type."""
        return int(value) if self.integer else value


def text_of(value: Decimal | float | int) -> str:
    """A value as the TOML text of an override (exact for grid values)."""
    if isinstance(value, Decimal):
        # Normalized: 0.8050 (a grid value) and 0.805 (a preset's) are the same candidate.
        return format(value.normalize(), "f")
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _decimal(raw: str, what: str, item: str) -> Decimal:
    try:
        value = Decimal(raw.strip().replace("_", ""))
    except InvalidOperation:
        raise OptimizeInputError(f"--param {item!r}: {what} {raw.strip()!r} is not a "
                                 "number") from None
    if not value.is_finite():
        raise OptimizeInputError(f"--param {item!r}: {what} must be finite")
    return value


def parse_param(item: str) -> Param:
    """``PATH=LOW:HIGH`` or ``PATH=LOW:HIGH:STEP`` (syntax only; :func:`check_params`
    checks the path against the scenario)."""
    path, sep, spec = item.partition("=")
    path = path.strip()
    parts = spec.split(":")
    if not sep or not path or any(not p for p in path.split(".")) or len(parts) not in (2, 3):
        raise OptimizeInputError(f"--param {item!r}: must be PATH=LOW:HIGH or "
                                 "PATH=LOW:HIGH:STEP (e.g. protocol.markets.WETH.ltv="
                                 "0.70:0.80:0.0025)")
    if path.rsplit(".", 1)[-1] == "seed":
        # Every candidate runs on the same seeds (common random numbers): a seed that
        # moved with the candidate would compare luck, not parameters.
        raise OptimizeInputError(f"--param {item!r}: the seed is not a parameter to "
                                 "optimize (every candidate runs on the same seeds: common "
                                 "random numbers); give the master seed with --seed")
    low = _decimal(parts[0], "LOW", item)
    high = _decimal(parts[1], "HIGH", item)
    if low > high:
        raise OptimizeInputError(f"--param {item!r}: LOW {low} is above HIGH {high}")
    if low == high:
        raise OptimizeInputError(f"--param {item!r}: LOW equals HIGH ({low}): a range of "
                                 f"one value is a fixed value, not a variable; use --set "
                                 f"{path}={parts[0].strip()}")
    if not math.isfinite(float(high) - float(low)):
        # The samplers draw in float64: numpy's uniform refused the range with an
        # OverflowError (an internal error).
        raise OptimizeInputError(f"--param {item!r}: the range is beyond a float (HIGH - "
                                 "LOW must be below 1.8e308: the samplers draw in float64)")
    step = None
    if len(parts) == 3:
        step = _decimal(parts[2], "STEP", item)
        if step <= 0:
            raise OptimizeInputError(f"--param {item!r}: STEP must be positive (got {step})")
        if step > high - low:
            # The grid LOW, LOW + STEP, ... up to HIGH is LOW alone: every candidate the
            # same value, a "variable" that cannot move (as LOW == HIGH).
            raise OptimizeInputError(f"--param {item!r}: STEP {step} is larger than HIGH - "
                                     f"LOW ({high - low}): the grid holds LOW alone, a "
                                     f"fixed value, not a variable; use --set "
                                     f"{path}={parts[0].strip()} or a smaller STEP")
        if (high - low) / step > MAX_GRID:
            raise OptimizeInputError(f"--param {item!r}: more than {MAX_GRID:,} grid "
                                     "points; give a larger STEP or none")
    integer = all("." not in p and "e" not in p.lower() for p in parts)
    return Param(path, low, high, step, integer and step is not None)


def resolve_path(spec: BaseModel, protocol: BaseModel, path: str) -> Any:
    """The value a scenario path holds once validated (a protocol field as the preset
    resolves it); :class:`OptimizeInputError` naming the path if there is none."""
    from marginengine.config.models import OptionsConfig

    parts = path.split(".")
    node: Any = spec
    where: list[str] = []
    if parts[0] == "protocol":
        node, parts, where = protocol, parts[1:], ["protocol"]
    for part in parts:
        here = ".".join(where) or "the scenario"
        if isinstance(node, OptionsConfig) and part == "portfolio_margin":
            # The overrides as written hold only what they change: a path inside reads
            # the preset's parameters with them (what a candidate's override replaces).
            node = node.rules
        elif isinstance(node, BaseModel):
            fields = type(node).model_fields
            if part not in fields:
                raise OptimizeInputError(f"--param {path}: unknown path: {part!r} is not a "
                                         f"field of {here} (fields: {', '.join(fields)})")
            node = getattr(node, part)
        elif isinstance(node, dict):
            if part not in node:
                raise OptimizeInputError(f"--param {path}: unknown path: {here} has no "
                                         f"{part!r} (it has: {', '.join(map(str, node))})")
            node = node[part]
        elif isinstance(node, list | tuple):
            if not part.isdigit() or int(part) >= len(node):
                raise OptimizeInputError(f"--param {path}: unknown path: {part!r} is not an "
                                         f"index of {here} ({len(node)} items)")
            node = node[int(part)]
        elif node is None:
            # An optional table the scenario does not give (no [protocol.drift] on an
            # Aave book): nothing inside it to vary.
            raise OptimizeInputError(f"--param {path}: unknown path: {here} is not set in "
                                     "this scenario (nothing to vary)")
        else:
            raise OptimizeInputError(f"--param {path}: unknown path: {here} is a value, "
                                     "not a table")
        where.append(part)
    if isinstance(node, bool) or not isinstance(node, int | float | Decimal | type(None)):
        raise OptimizeInputError(f"--param {path}: not a number (it holds "
                                 f"{type(node).__name__})")
    return node


@dataclass
class Problem:
    """What to optimize: the scenario, its variables, objectives and constraints.

    Attributes
    ----------
    data
        The scenario (plain data, fixed overrides applied, relative files anchored).
    params
        The decision variables.
    objectives
        One (CMA-ES) or more (NSGA-II) metrics.
    constraints
        The risk budget.
    name
        The scenario's name.
    current
        Each variable's value in the scenario as given (``None`` when unset).
    seed
        The scenario's ``seed`` (the master seed when none is given).
    kind
        ``cascade`` (a price model) or ``scripted`` (explicit prices with ``[noise]``).
    options
        Whether the scenario has an options book (the ``options_*`` metrics apply).
    """

    data: dict[str, Any]
    params: list[Param]
    objectives: list[Metric]
    constraints: list[Constraint]
    name: str
    current: dict[str, Any]
    seed: int = 0
    kind: str = "cascade"
    options: bool = False

    @property
    def metrics(self) -> list[Metric]:
        """The metrics that apply to the scenario (reported for every candidate)."""
        return [m for m in METRICS.values() if m.needs is None
                or (m.needs == "options" and self.options)]

    @property
    def efficiency(self) -> Metric:
        """The frontier's efficiency axis: the first maximized objective, else
        ``options_leverage`` for an options book, else ``borrowing_power``."""
        default = DEFAULT_OPTIONS_EFFICIENCY if self.options else DEFAULT_EFFICIENCY
        return next((m for m in self.objectives if m.sense == "max"), METRICS[default])

    @property
    def tail(self) -> Metric:
        """The frontier's risk axis: the first minimized objective, else the first
        constrained minimized metric, else ``es99_bad_debt``."""
        for m in [*self.objectives, *(c.metric for c in self.constraints)]:
            if m.sense == "min":
                return m
        return METRICS[DEFAULT_TAIL]

    def digest(self) -> str:
        """A digest of the scenario: cached evaluations are valid only for the same one."""
        text = json.dumps(self.data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def overrides(self, values: Sequence[Decimal | float | int]) -> list[str]:
        """``PATH=VALUE`` for every variable."""
        return [f"{p.path}={text_of(v)}" for p, v in zip(self.params, values, strict=True)]

    def key(self, values: Sequence[Decimal | float | int], model: str = "simulator") -> str:
        """The cache key of a candidate: the model that evaluates it, the scenario's digest
        and every value's text (the backend is not in it: every backend gives the same
        rows)."""
        text = json.dumps([model, self.digest(), self.overrides(values)])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def candidate(self, values: Sequence[Decimal | float | int]
                  ) -> tuple[dict[str, Any] | None, str | None]:
        """The scenario of a candidate, or ``None`` and why the validator refuses it."""
        from marginengine.sim import apply_overrides
        from marginengine.sim.cascade import scenario_spec
        from marginengine.sim.schema import load_spec

        try:
            data = apply_overrides(self.data, self.overrides(values))
            if self.kind == "cascade":
                scenario_spec(data)
            else:
                load_spec(data)
        except ConfigError as exc:
            return None, "; ".join(exc.problems)
        return data, None


def _materialize(data: dict[str, Any], path: str, protocol: Any) -> None:
    """Write the portfolio preset's list a path indexes into the scenario's overrides.

    ``protocol.options.portfolio_margin.scenarios.3.spot_shock`` indexes the preset's
    scenario list, which the scenario does not write out (an override can only replace an
    item of a list that is there): the list, as the preset has it, is copied into
    ``[protocol.options.portfolio_margin]``, which changes no parameter (the preset's own
    values laid over it).
    """
    parts = path.split(".")
    if parts[:3] != ["protocol", "options", "portfolio_margin"] or len(parts) < 5:
        return
    opts = protocol.options
    if opts is None:
        return
    key = parts[3]
    value = getattr(opts.rules, key, None)
    table = data.setdefault("protocol", {}).setdefault("options", {})
    overrides = table.setdefault("portfolio_margin", {})
    if isinstance(overrides, dict) and key not in overrides and isinstance(value, list):
        overrides[key] = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v
                          for v in value]


def build_problem(data: dict[str, Any], params: Sequence[str], objectives: Sequence[str],
                  constraints: Sequence[str], source: str | None = None,
                  runs: int = 2) -> Problem:
    """Parse and check the flags against the scenario.

    Parameters
    ----------
    data, source
        The scenario (a cascade scenario, or a scripted one with ``[noise]``) and its file.
    params, objectives, constraints
        The flags' values.
    runs
        Runs per candidate (a scripted scenario without ``[noise]`` is refused for any
        number above 1, as ``simulate --runs`` refuses it).

    Raises
    ------
    OptimizeInputError
        Naming the flag and the reason: ``--param`` syntax, an unknown path, ``LOW`` above
        or equal to ``HIGH`` (a fixed value: ``--set``), a seed (common random numbers:
        ``--seed``), a path given twice, an unknown metric, a metric of an options book on a
        scenario without one, a bad constraint, a continuous range over a field that takes
        whole basis points.
    ConfigError
        When the scenario itself is invalid, or is scripted and has no ``[noise]`` (its
        runs would all be the same run).
    """
    from marginengine.sim.cascade import scenario_spec
    from marginengine.sim.scenario import scenario_kind
    from marginengine.sim.schema import load_spec

    kind = scenario_kind(data, source)
    model: BaseModel
    if kind == "cascade":
        spec, protocol = scenario_spec(data, source)
        model, name, seed = spec, spec.name, spec.seed
        has_options = False
    else:
        loaded = load_spec(data, source)
        # The one rule of when runs differ (ScenarioSpec.random), with its message.
        loaded.check_runs(runs)
        assert loaded.scripted is not None
        model, protocol = loaded.scripted.spec, loaded.protocol
        name, seed = loaded.name, loaded.seed
        has_options = loaded.scripted.options is not None
    if not params:
        raise OptimizeInputError("--param: give at least one decision variable, e.g. "
                                 "--param protocol.markets.WETH.ltv=0.70:0.80:0.0025")
    parsed = [parse_param(p) for p in params]
    seen: set[str] = set()
    current: dict[str, Any] = {}
    data = copy.deepcopy(data)
    for p in parsed:
        if p.path in seen:
            raise OptimizeInputError(f"--param {p.path}: given twice")
        seen.add(p.path)
        current[p.path] = resolve_path(model, protocol, p.path)
        _materialize(data, p.path, protocol)
    default = DEFAULT_OPTIONS_EFFICIENCY if has_options else DEFAULT_EFFICIENCY
    goals = [metric(o, "--objective") for o in objectives] or [
        METRICS[default], METRICS[DEFAULT_TAIL]]
    if len({g.name for g in goals}) != len(goals):
        raise OptimizeInputError("--objective: a metric is given twice")
    limits = [parse_constraint(c) for c in constraints]
    for flag, m in [*(("--objective", g) for g in goals),
                    *(("--constraint", c.metric) for c in limits)]:
        if m.needs == "options" and not has_options:
            raise OptimizeInputError(
                f"{flag} {m.name}: a metric of an options book, and {name} has none (it "
                "needs [protocol.options] and an [options] section with trades)")
    problem = Problem(data, parsed, goals, limits, name, current, seed, kind, has_options)
    for i, p in enumerate(parsed):
        if p.step is not None:
            continue
        # A continuous range over a field of whole basis points would make every candidate
        # infeasible: say so now rather than after the budget is spent.
        mids = [q.value(0.5) if j != i else float(p.low) + float(p.high - p.low) / 3
                for j, q in enumerate(parsed)]
        _, why = problem.candidate(mids)
        if why is not None and "whole number" in why and p.path.rsplit(".", 1)[-1] in why:
            raise OptimizeInputError(f"--param {p.path}: the field takes whole basis points; "
                                     "give a STEP, e.g. :0.0001")
    return problem
