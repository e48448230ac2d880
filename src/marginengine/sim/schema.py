"""One scenario schema: every scenario file is read by :func:`load_spec`.

A scenario has four parts (docs/simulator.md, "One scenario schema"):

- a **book**: explicit ``[[accounts]]`` (and ``[[trades]]``, ``[insurance]``), and/or a
  ``[book]`` (synthetic, a CSV/Parquet file or a snapshot);
- a **price source**: explicit per-step prices (``[[steps]]`` with ``prices``: a scripted
  path), or a model (``steps = N`` with ``[price]``: a process, the joint model, an
  explicit ``path``, a historical replay);
- **actions**: explicit actions at steps (``steps[i].actions``, ``steps[i].trades``)
  and/or agents (the ``[liquidator]`` of an explicit path, the ``[[keepers]]`` of a
  model, with venues, oracles and gas);
- **randomness and outputs**: ``seed``, ``[monte_carlo]`` and, for explicit prices,
  ``[noise]`` (what a Monte Carlo run draws).

A scripted scenario is the case with explicit prices and explicit actions. ``kind`` is an
optional hint (``scripted`` or ``cascade``); absent, the content decides
(:func:`~marginengine.sim.scenario.infer_kind`). The sections of each price source are
validated by their own models (:class:`~marginengine.sim.scenario.ScenarioFile`,
:class:`~marginengine.sim.cascade_config.CascadeFile`), so every field keeps its one-line
error; a section that belongs to the other price source is refused naming it and what to
use instead. Every run goes through :func:`marginengine.sim.pipeline.run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marginengine.config import ProtocolConfig, read_toml, validate_model
from marginengine.errors import ConfigError
from marginengine.sim.scenario import Scenario, ScenarioFile, scenario_from_dict, scenario_kind

if TYPE_CHECKING:
    from marginengine.sim.cascade_config import CascadeFile, MonteCarloSpec

#: Sections every scenario takes whatever its price source (besides those both models
#: define): read here for explicit prices.
COMMON = ("monte_carlo",)

#: What a section of the other price source is called here (the hint in its refusal).
_INSTEAD = {
    "liquidator": "[[keepers]]",
    "feeds": "[oracle] or [oracles.X]",
    "keepers": "[liquidator]",
    "oracle": "[feeds.X]",
    "oracles": "[feeds.X]",
    "price": "prices in [[steps]]",
    "book": "[[accounts]]",
    "step_seconds": "advance in each [[steps]]",
}


def _cascade_fields() -> set[str]:
    from marginengine.sim.cascade_config import CascadeFile

    return set(CascadeFile.model_fields)


#: Account keys of a snapshot (``marginengine health FILE``) that no scenario has.
SNAPSHOT_KEYS = frozenset({"supplied", "borrowed", "positions", "options", "option_cash"})


def resolve_kind(data: dict[str, Any], source: str | None = None) -> str:
    """The scenario's kind (``scripted``: explicit prices; ``cascade``: a price model), as
    given or inferred, checked against its sections.

    Raises
    ------
    ConfigError
        ``kind`` is unknown, or contradicts the content (``steps`` as a list under
        ``kind = "cascade"``, ``[price]`` under ``kind = "scripted"``), or a section of the
        other price source is present: one ``field: reason`` each.
    """
    for key, command in (("family", "marginengine family"), ("service", "marginengine serve")):
        if key in data:
            raise ConfigError([f"{key}: this file is for `{command} FILE`, not a scenario of "
                               "simulate or sweep"], source=source)
    accounts = data.get("accounts")
    if "steps" not in data and "price" not in data and isinstance(accounts, list) and any(
            isinstance(a, dict) and SNAPSHOT_KEYS.intersection(a) for a in accounts):
        # A snapshot of balances (docs/formats.md), not a scenario: one line saying which
        # command reads it rather than an unknown-field error per account.
        raise ConfigError(["accounts: this file is a snapshot (accounts with "
                           f"{', '.join(sorted(SNAPSHOT_KEYS))}) for `marginengine health "
                           "FILE`, not a scenario of simulate or sweep (a scenario's "
                           "accounts give deposit and borrow)"], source=source)
    kind = scenario_kind(data, source)
    problems: list[str] = []
    steps = data.get("steps")
    if kind == "cascade" and isinstance(steps, list):
        problems.append('steps: kind = "cascade" takes a step count (an integer) with '
                        "[price]; a list of [[steps]] with explicit prices is a scripted "
                        'scenario (omit kind, or kind = "scripted")')
    scripted_fields = set(ScenarioFile.model_fields)
    cascade_fields = _cascade_fields()
    if kind == "scripted":
        own, other = scripted_fields | set(COMMON), cascade_fields
        why = ("applies to scenarios whose prices come from a model (steps = N with "
               "[price]); this one's prices are explicit [[steps]]")
    else:
        own, other = cascade_fields, scripted_fields
        why = ("applies to scenarios with explicit prices in [[steps]]; this one's prices "
               "come from [price]")
    for key in data:
        if key not in own and key in other:
            hint = _INSTEAD.get(key)
            problems.append(f"{key}: {why}" + (f" (here: {hint})" if hint else ""))
    if problems:
        raise ConfigError(problems, source=source)
    return kind


@dataclass(frozen=True)
class ScenarioSpec:
    """A validated scenario of either price source, and what the one pipeline needs.

    Attributes
    ----------
    kind
        ``scripted`` (explicit prices and actions) or ``cascade`` (a price model and
        agents).
    data
        The scenario's data as it runs (relative files made relative to ``source``).
    source
        The file it came from, if any.
    protocol
        The (first) protocol.
    scripted, cascade
        The validated sections of its price source (the other is ``None``).
    """

    kind: str
    data: dict[str, Any]
    source: str | None
    protocol: ProtocolConfig
    scripted: Scenario | None = None
    cascade: CascadeFile | None = None
    #: Explicit prices: their ``[monte_carlo]`` (a model's is ``cascade.monte_carlo``).
    scripted_monte_carlo: MonteCarloSpec | None = None

    @property
    def name(self) -> str:
        """The scenario's name (its output folder ``runs/<name>``)."""
        return self.scripted.name if self.scripted is not None else self._cascade.name

    @property
    def seed(self) -> int:
        """The master seed of its Monte Carlo runs (and of a model's single run)."""
        return (self.scripted.spec.seed if self.scripted is not None
                else self._cascade.seed)

    @property
    def monte_carlo(self) -> MonteCarloSpec:
        """Its ``[monte_carlo]`` settings."""
        if self.scripted_monte_carlo is not None:
            return self.scripted_monte_carlo
        return self._cascade.monte_carlo

    @property
    def steps(self) -> int:
        """How many steps a run takes."""
        return (len(self.scripted.steps) if self.scripted is not None
                else self._cascade.steps)

    @property
    def step_seconds(self) -> int:
        """Seconds per step: a model's ``step_seconds``; for explicit steps their common
        ``advance``, or 0 when they differ (``time_s`` in the series says each)."""
        if self.scripted is None:
            return self._cascade.step_seconds
        advances = {seconds for seconds, _, _ in self.scripted.steps}
        return advances.pop() if len(advances) == 1 else 0

    @property
    def price_source(self) -> str:
        """``explicit`` (prices per step in ``[[steps]]``), or the model's: ``path``,
        ``replay``, ``joint`` or the process (``gbm``, ``jump``, ...)."""
        if self.scripted is not None:
            return "explicit"
        price = self._cascade.price
        return "joint" if price.assets else price.process

    @property
    def book_source(self) -> str:
        """``explicit`` (``[[accounts]]`` only), ``synthetic``, ``profiles``, ``file`` or
        ``snapshot``."""
        if self.scripted is not None:
            return "explicit"
        book = self._cascade.book
        return ("profiles" if book.profiles else "file" if book.file
                else "snapshot" if book.snapshot else "synthetic")

    @property
    def random(self) -> bool:
        """Whether a run draws anything: a model always does (its book and keeper order,
        and its path unless explicit); explicit prices only with ``[noise]``."""
        return self.scripted is None or self.scripted.spec.noise is not None

    @property
    def _cascade(self) -> CascadeFile:
        assert self.cascade is not None
        return self.cascade

    def check_runs(self, runs: int, flag: str = "--runs") -> None:
        """Refuse a Monte Carlo of ``runs`` > 1 runs when nothing in a run is random.

        Raises
        ------
        ConfigError
            Naming ``noise``, the missing table, in one line.
        """
        if runs > 1 and not self.random:
            raise ConfigError([
                f"noise: a Monte Carlo ({flag} {runs}) needs something random, and this "
                "scenario's prices and actions are all explicit: add a [noise] table "
                "(e.g. sigma = 0.02) to perturb the step prices in each run, or run it "
                "once"], source=self.source)


def load_spec(data: dict[str, Any], source: str | None = None) -> ScenarioSpec:
    """Validate a scenario of either price source (the one loader).

    Relative files (``price.file``, ``gas.file``, ``book.file``, ...) are read from the
    folder of ``source``.

    Raises
    ------
    ConfigError
        Every problem, each naming its field.
    """
    from marginengine.sim.cascade_config import MonteCarloSpec

    kind = resolve_kind(data, source)
    if kind == "scripted":
        problems: list[str] = []
        try:
            mc = validate_model(MonteCarloSpec, data.get("monte_carlo", {}), source,
                                prefix="monte_carlo")
        except ConfigError as exc:
            problems, mc = exc.problems, MonteCarloSpec()
        try:
            scenario = scenario_from_dict({k: v for k, v in data.items()
                                           if k not in COMMON}, source)
        except ConfigError as exc:
            raise ConfigError(exc.problems + problems, source=source) from None
        if problems:
            raise ConfigError(problems, source=source)
        return ScenarioSpec(kind, data, source, scenario.protocol, scripted=scenario,
                            scripted_monte_carlo=mc)
    from marginengine.sim.cascade import scenario_spec
    from marginengine.sim.cascade_config import anchor_files

    anchored = anchor_files(data, source)
    spec, protocol = scenario_spec(anchored, source)
    return ScenarioSpec(kind, anchored, source, protocol, cascade=spec)


def read_spec(path: str | Path, overrides: list[str] | None = None) -> ScenarioSpec:
    """Read a scenario file, apply ``--set`` overrides, and validate it."""
    from marginengine.sim.overrides import apply_overrides

    data = apply_overrides(read_toml(path), list(overrides or []))
    return load_spec(data, str(path))
