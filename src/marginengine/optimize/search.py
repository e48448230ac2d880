"""The search: a seeded sampler over the variables, every candidate on the same runs.

Stages (docs/optimize.md has the reasons):

1. **current**: the scenario as given is evaluated (the baseline of every comparison);
2. **search**: Optuna's NSGA-II (two or more objectives, constraints by constrained
   domination) or CMA-ES (one objective, constraints as a penalty above every feasible
   value; a one-variable problem samples at random, which CMA-ES cannot do in 1-D), asked
   and told in batches of ``population`` candidates, each batch run in parallel;
3. **refine** (with constraints): a constrained optimum lies on the constraint's boundary,
   so the best feasible point and the nearest better infeasible one are bisected on the
   variables' grid until they are neighbours;
4. **re-evaluate**: the points near the frontier (the first non-dominated layers of the
   candidates within 25% of feasibility) run ``reeval_runs`` more runs, on the same extra
   seeds for all (the cache serves the first ``runs``), and the frontier, feasibility and
   the tiers are judged on those;
5. **sensitivity**: each metric's change per unit of each variable around the moderate
   recommendation, by central differences on the same runs with a paired bootstrap.

The budget counts candidate evaluations: the baseline, the search and the refinement
(a repeated candidate is served from the cache but still counts), plus one per
re-evaluated point and two per variable for the sensitivity, which are held back from it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from marginengine.optimize.cache import EvaluationCache
from marginengine.optimize.evaluate import Evaluator
from marginengine.optimize.problem import Metric, OptimizeInputError, Problem
from marginengine.optimize.stats import interval_estimates, paired_difference, point_estimates

Value = Decimal | float | int
#: Infeasible candidates within this violation (relative to the limit) are re-evaluated.
NEAR_FEASIBLE = 0.25
#: A variable's move for the sensitivity when it is continuous (share of its range).
CONTINUOUS_DELTA = 0.05


#: The largest seed Optuna's samplers take (``numpy.random.RandomState``: 32 bits).
SAMPLER_SEED_MAX = 2**32 - 1
#: Runs per candidate at most: the Monte Carlo bound of ``simulate --runs``.
MAX_RUNS = 100_000
#: Candidate evaluations at most. Each costs ``runs`` cascade runs (64 by default: 64,000
#: for the whole search at this bound), and the re-evaluation stage peels non-dominated
#: layers off every near-feasible candidate, pairwise: cubic in the candidates when each
#: layer holds one point (a chain, where the objective and the tail agree), so ten times
#: this bound would cost a thousand times its bookkeeping before a single extra run.
MAX_BUDGET = 1_000


@dataclass
class Settings:
    """How hard to search.

    Attributes
    ----------
    runs
        Runs per candidate (common random numbers: the same seeds for all).
    budget
        Candidate evaluations in all (see the module docstring).
    seed
        Master seed of the runs, the sampler and the bootstraps.
    population
        Candidates per batch (default: ``min(16, max(4, budget // 5))``).
    reeval_runs
        Extra runs of the points near the frontier (default: ``runs``).
    resamples
        Bootstrap resamples of the reported intervals.
    """

    runs: int = 64
    budget: int = 40
    seed: int = 0
    population: int | None = None
    reeval_runs: int | None = None
    resamples: int = 1_000

    def check(self) -> None:
        """Refuse settings the search cannot run with, naming the flag."""
        for flag, value, low in (("--runs", self.runs, 2), ("--budget", self.budget, 4),
                                 ("--seed", self.seed, 0), ("--resamples", self.resamples, 10)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise OptimizeInputError(f"{flag}: must be an integer >= {low} (got {value!r})")
        if self.budget > MAX_BUDGET:
            raise OptimizeInputError(f"--budget: must be at most {MAX_BUDGET:,} candidate "
                                     f"evaluations (each is --runs cascade runs, and the "
                                     f"re-evaluation's frontier layering grows with the cube "
                                     f"of the candidates), got {self.budget:,}")
        if self.runs > MAX_RUNS:
            raise OptimizeInputError(f"--runs: must be at most {MAX_RUNS:,} (as simulate "
                                     f"--runs and monte_carlo.runs), got {self.runs:,}")
        if self.seed > SAMPLER_SEED_MAX:
            # Optuna's samplers seed a numpy RandomState, which takes 32 bits only.
            raise OptimizeInputError(f"--seed: must be at most {SAMPLER_SEED_MAX:,} (the "
                                     "samplers take a 32-bit seed; without --seed it is the "
                                     f"scenario's seed), got {self.seed:,}")
        if self.population is not None and self.population < 2:
            raise OptimizeInputError("--population: must be at least 2")


@dataclass
class Evaluation:
    """One candidate as evaluated (with the most runs it has had)."""

    values: tuple[Value, ...]
    key: str
    stage: str
    order: int
    reason: str | None = None
    runs: int = 0
    estimates: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """The config validator accepts it."""
        return self.reason is None


@dataclass
class Result:
    """What a search found (see :func:`marginengine.optimize.api.optimize`)."""

    problem: Problem
    settings: Settings
    evaluations: list[Evaluation]
    final: list[Evaluation]
    frontier: list[Evaluation]
    current: Evaluation | None
    tiers: dict[str, dict[str, Any]]
    sensitivity: list[dict[str, Any]]
    state: str
    counts: dict[str, Any]


ProgressFn = Callable[[int, int, Evaluation | None], None]


class Search:
    """Runs the stages of the module docstring."""

    def __init__(self, problem: Problem, evaluator: Evaluator, settings: Settings,
                 cache: EvaluationCache | None = None, progress: ProgressFn | None = None
                 ) -> None:
        settings.check()
        self.problem = problem
        self.evaluator = evaluator
        self.settings = settings
        self.cache = cache or EvaluationCache()
        self.progress = progress
        self.evals: dict[str, Evaluation] = {}
        self.order: list[str] = []
        self.used = 0
        self.executed_runs = 0
        self.cached_runs = 0
        self.started = time.perf_counter()
        self._valid: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
        #: What produces the rows (part of the cache key): the simulator, or a twin.
        self.model = getattr(evaluator, "model", "simulator")

    # ---------------------------------------------------------------- evaluation
    def feasible(self, e: Evaluation, at: str = "value", scale: float = 1.0) -> bool:
        """:func:`is_feasible` for this problem."""
        return is_feasible(self.problem, e, at, scale)

    def violation(self, e: Evaluation) -> float:
        """Sum of the constraints' relative violations (infinite when invalid)."""
        if not e.valid:
            return math.inf
        return sum(c.violation(e.estimates[c.metric.name]) for c in self.problem.constraints)

    def best(self) -> Evaluation | None:
        """The best feasible candidate so far by the first objective."""
        m = self.problem.objectives[0]
        feasible = [e for e in self.evals.values() if self.feasible(e)]
        if not feasible:
            return None
        return max(feasible, key=lambda e: (_signed(m, e.estimates[m.name]), -e.order))

    def evaluate(self, batch: Sequence[tuple[Value, ...]], runs: int, stage: str
                 ) -> list[Evaluation]:
        """Evaluate candidates on runs ``0..runs-1`` (cached runs are not run again)."""
        problem, seed = self.problem, self.settings.seed
        out: list[Evaluation | None] = [None] * len(batch)
        groups: dict[tuple[int, ...], list[tuple[int, dict[str, Any], str]]] = {}
        for j, values in enumerate(batch):
            key = problem.key(values, self.model)
            if key not in self._valid:
                self._valid[key] = problem.candidate(values)
            data, reason = self._valid[key]
            known = self.evals.get(key)
            if data is None:
                out[j] = known or Evaluation(tuple(values), key, stage, len(self.order), reason)
                continue
            if known is not None and known.runs >= runs:
                out[j] = known
                self.cached_runs += runs
                continue
            missing = tuple(i for i in range(runs) if self.cache.get(key, seed, i) is None)
            self.cached_runs += runs - len(missing)
            groups.setdefault(missing, []).append((j, data, key))
        for missing, members in groups.items():
            if missing:
                rows = self.evaluator.evaluate([m[1] for m in members], seed, list(missing))
                self.executed_runs += len(missing) * len(members)
                for (_, _, key), got in zip(members, rows, strict=True):
                    for i, row in zip(missing, got, strict=True):
                        self.cache.put(key, seed, i, row)
            for j, _, key in members:
                all_rows = [self.cache.get(key, seed, i) for i in range(runs)]
                rows_ok = [r for r in all_rows if r is not None]
                known = self.evals.get(key)
                e = known or Evaluation(tuple(batch[j]), key, stage, len(self.order))
                e.rows, e.runs = rows_ok, runs
                e.estimates = point_estimates(rows_ok, problem.metrics)
                e.intervals, e.warnings = {}, []
                out[j] = e
        self.cache.flush()
        result: list[Evaluation] = []
        for item in out:
            assert item is not None
            if item.key not in self.evals:
                self.evals[item.key] = item
                self.order.append(item.key)
            result.append(item)
        return result

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.used, self.settings.budget, self.best())

    # ---------------------------------------------------------------- stages
    def run(self) -> Result:
        """All stages; on ``KeyboardInterrupt`` the evaluations so far are kept (the cache
        is on disk) and the interrupt propagates."""
        s, problem = self.settings, self.problem
        n_params = len(problem.params)
        reeval = max(1, round(0.15 * s.budget))
        sens = 2 * n_params if s.budget >= 2 * n_params + reeval + 4 else 0
        refine = max(0, round(0.15 * s.budget)) if problem.constraints else 0
        search = max(1, s.budget - reeval - sens - refine - 1)
        current = None
        if all(v is not None for v in problem.current.values()):
            values = tuple(_as_value(problem.current[p.path]) for p in problem.params)
            current = self.evaluate([values], s.runs, "current")[0]
            self.used += 1
            self._tick()
        self._search(search)
        self._refine(refine)
        final = self._reevaluate(reeval)
        frontier = self.frontier(final)
        tiers = self.tiers(frontier)
        sensitivity = self._sensitivity(tiers, sens) if sens else []
        if current is not None and current.runs < s.runs + (s.reeval_runs or s.runs):
            self.evaluate([current.values], s.runs + (s.reeval_runs or s.runs), "current")
        for e in [*final, *([current] if current else [])]:
            if e.valid and not e.intervals:
                e.intervals, e.warnings = interval_estimates(e.rows, s.seed, s.resamples,
                                                             problem.metrics)
        elapsed = time.perf_counter() - self.started
        counts = {"evaluations": self.used, "candidates": len(self.evals),
                  "invalid": sum(1 for e in self.evals.values() if not e.valid),
                  "runs_executed": self.executed_runs, "runs_from_cache": self.cached_runs,
                  "seconds": elapsed,
                  "runs_per_second": self.executed_runs / elapsed if elapsed > 0 else None}
        return Result(problem, s, [self.evals[k] for k in self.order], final, frontier,
                      current, tiers, sensitivity, "complete", counts)

    def _search(self, budget: int) -> None:
        try:
            import optuna
            from optuna.distributions import FloatDistribution, IntDistribution
        except ImportError:
            raise OptimizeInputError("optimize needs the optimize extra: pip install "
                                     "'marginengine[optimize]'") from None

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        s, problem = self.settings, self.problem
        population = s.population or min(16, max(4, s.budget // 5))
        dists: dict[str, Any] = {}
        for p in problem.params:
            dists[p.path] = (IntDistribution(0, p.points - 1) if p.step is not None
                             else FloatDistribution(float(p.low), float(p.high)))
        goals = problem.objectives
        multi = len(goals) > 1
        if multi:
            # Constraints by constrained domination, set on each trial (set_constraint).
            sampler: Any = optuna.samplers.NSGAIISampler(population_size=population,
                                                         seed=s.seed)
            study = optuna.create_study(
                directions=["maximize" if m.sense == "max" else "minimize" for m in goals],
                sampler=sampler)
        else:
            import warnings

            warnings.filterwarnings("ignore", module="optuna")
            sampler = optuna.samplers.CmaEsSampler(
                seed=s.seed, popsize=population, with_margin=any(p.step is not None
                                                                 for p in problem.params),
                independent_sampler=optuna.samplers.RandomSampler(seed=s.seed))
            study = optuna.create_study(direction="minimize", sampler=sampler)
        done = 0
        worst = 1.0
        while done < budget:
            n = min(population, budget - done)
            trials = [study.ask(dists) for _ in range(n)]
            batch = [self._values(t.params) for t in trials]
            evals = self.evaluate(batch, s.runs, "search")
            for trial, e in zip(trials, evals, strict=True):
                if multi:
                    for k, c in enumerate(problem.constraints):
                        trial.set_constraint(f"c{k}", c.violation(e.estimates[c.metric.name])
                                             if e.valid else 1e12)
                    if e.valid:
                        study.tell(trial, [e.estimates[m.name] for m in goals])
                    else:
                        # Refused by the validator: worst on every objective (and on every
                        # constraint above), so the sampler steers away from it.
                        study.tell(trial, [-1e300 if m.sense == "max" else 1e300
                                           for m in goals])
                else:
                    m = goals[0]
                    if e.valid:
                        f = -_signed(m, e.estimates[m.name])
                        worst = max(worst, abs(f))
                        v = self.violation(e)
                        study.tell(trial, f if v == 0 else 2 * worst + v * worst)
                    else:
                        study.tell(trial, 4 * worst + 1e6 * worst)
            done += n
            self.used += n
            self._tick()

    def _values(self, params: dict[str, Any]) -> tuple[Value, ...]:
        out: list[Value] = []
        for p in self.problem.params:
            raw = params[p.path]
            out.append(p.cast(p.grid_value(int(raw))) if p.step is not None else float(raw))
        return tuple(out)

    def _refine(self, budget: int) -> None:
        """Bisect between the best feasible point and the nearest better infeasible one."""
        problem = self.problem
        m = problem.objectives[0]
        done_pairs: set[tuple[str, str]] = set()
        spent = 0
        while spent < budget:
            best = self.best()
            if best is None:
                return
            better = [e for e in self.evals.values() if e.valid and e.estimates
                      and not self.feasible(e)
                      and _signed(m, e.estimates[m.name]) > _signed(m, best.estimates[m.name])
                      and (best.key, e.key) not in done_pairs]
            if not better:
                return
            other = min(better, key=lambda e: (self._distance(best, e), e.order))
            mid = tuple(p.value((p.position(a) + p.position(b)) / 2)
                        for p, a, b in zip(problem.params, best.values, other.values,
                                           strict=True))
            key = problem.key(mid, self.model)
            if key in (best.key, other.key):
                done_pairs.add((best.key, other.key))
                continue
            self.evaluate([mid], self.settings.runs, "refine")
            spent += 1
            self.used += 1
            self._tick()

    def _distance(self, a: Evaluation, b: Evaluation) -> float:
        return math.sqrt(sum((p.position(x) - p.position(y)) ** 2 for p, x, y in
                             zip(self.problem.params, a.values, b.values, strict=True)))

    def _reevaluate(self, budget: int) -> list[Evaluation]:
        s = self.settings
        near = [e for e in self.evals.values() if e.valid and e.estimates
                and self.violation(e) <= NEAR_FEASIBLE]
        chosen: list[Evaluation] = []
        pool = list(near)
        best = self.best()
        if best is not None:
            chosen.append(best)
            pool = [e for e in pool if e.key != best.key]
        while pool and len(chosen) < budget:
            layer = self._nondominated(pool)
            layer.sort(key=lambda e: (self.violation(e), e.order))
            for e in layer:
                if len(chosen) < budget:
                    chosen.append(e)
            keys = {e.key for e in layer}
            pool = [e for e in pool if e.key not in keys]
        total = s.runs + (s.reeval_runs or s.runs)
        if chosen:
            self.evaluate([e.values for e in chosen], total, "reevaluate")
            self.used += len(chosen)
            self._tick()
        for e in chosen:
            e.intervals, e.warnings = interval_estimates(e.rows, s.seed, s.resamples,
                                                         self.problem.metrics)
        return sorted(chosen, key=lambda e: e.order)

    def _axes(self, e: Evaluation) -> tuple[float, float]:
        x, y = self.problem.efficiency, self.problem.tail
        return _signed(x, e.estimates[x.name]), _signed(y, e.estimates[y.name])

    def _nondominated(self, points: Sequence[Evaluation]) -> list[Evaluation]:
        """Points no other beats on both frontier axes (larger is better on both after
        :func:`_signed`)."""
        out = []
        for e in points:
            ex, ey = self._axes(e)
            dominated = False
            for o in points:
                ox, oy = self._axes(o)
                if ox >= ex and oy >= ey and (ox > ex or oy > ey):
                    dominated = True
                    break
            if not dominated:
                out.append(e)
        return out

    def frontier(self, points: Sequence[Evaluation]) -> list[Evaluation]:
        """The feasible points no other feasible point beats on efficiency and tail risk,
        by increasing efficiency (one per distinct pair of figures)."""
        feasible = [e for e in points if self.feasible(e)]
        front = self._nondominated(feasible)
        seen: set[tuple[float, float]] = set()
        out = []
        for e in sorted(front, key=lambda e: (self._axes(e), e.order)):
            if self._axes(e) not in seen:
                seen.add(self._axes(e))
                out.append(e)
        return out

    def tiers(self, frontier: Sequence[Evaluation]) -> dict[str, dict[str, Any]]:
        """Conservative, moderate and aggressive picks on the frontier (docs/optimize.md).

        With constraints: aggressive is the most efficient point within them at the point
        estimates; moderate within them at the intervals' unfavourable ends; conservative
        the same with half the ``<=`` limits. Without: aggressive the most efficient,
        conservative the least tail risk, moderate the knee between them.
        """
        x = self.problem.efficiency
        out: dict[str, dict[str, Any]] = {}
        if not frontier:
            return {t: {"key": None, "why": "no feasible point"} for t in
                    ("conservative", "moderate", "aggressive")}

        def most_efficient(points: Sequence[Evaluation]) -> Evaluation | None:
            return max(points, key=lambda e: (_signed(x, e.estimates[x.name]), -e.order),
                       default=None)

        if self.problem.constraints:
            rules = {"aggressive": ("value", 1.0, "within the constraints at the estimate"),
                     "moderate": ("ci", 1.0, "within the constraints at the 95% interval"),
                     "conservative": ("ci", 0.5, "within half the <= limits at the 95% "
                                      "interval")}
            for tier, (at, scale, why) in rules.items():
                pick = most_efficient([e for e in frontier if self.feasible(e, at, scale)])
                out[tier] = {"key": pick.key if pick else None,
                             "why": why if pick else f"no frontier point {why}"}
            return out
        ordered = sorted(frontier, key=lambda e: self._axes(e))
        xs = np.array([self._axes(e)[0] for e in ordered])
        ys = np.array([self._axes(e)[1] for e in ordered])
        span_x = float(xs.max() - xs.min()) or 1.0
        span_y = float(ys.max() - ys.min()) or 1.0
        # Knee: farthest (normalized) from the line between the two ends of the frontier.
        u, v = (xs - xs.min()) / span_x, (ys - ys.min()) / span_y
        knee = int(np.argmax(np.abs(u + v - 1.0))) if len(ordered) > 2 else 0
        picks = {"aggressive": (ordered[-1], "the most efficient frontier point"),
                 "conservative": (ordered[0], "the frontier point of least tail risk"),
                 "moderate": (ordered[knee], "the frontier's knee")}
        return {t: {"key": e.key, "why": why} for t, (e, why) in picks.items()}

    def _sensitivity(self, tiers: dict[str, dict[str, Any]], budget: int
                     ) -> list[dict[str, Any]]:
        s, problem = self.settings, self.problem
        key = tiers.get("moderate", {}).get("key") or tiers.get("aggressive", {}).get("key")
        if key is None:
            return []
        base = self.evals[key]
        total = s.runs + (s.reeval_runs or s.runs)
        out = []
        for i, p in enumerate(problem.params):
            sides = []
            for direction in (-1, 1):
                values = list(base.values)
                if p.step is not None:
                    moved = Decimal(str(values[i])) + direction * p.step
                    if not p.low <= moved <= p.high:
                        continue
                    values[i] = p.cast(moved)
                else:
                    delta = CONTINUOUS_DELTA * float(p.high - p.low)
                    moved_f = float(values[i]) + direction * delta
                    if not float(p.low) <= moved_f <= float(p.high):
                        continue
                    values[i] = moved_f
                sides.append(tuple(values))
            evals = self.evaluate(sides, total, "sensitivity") if sides else []
            self.used += len(sides)
            ends = [e for e in evals if e.valid]
            if len(ends) == 2:
                low, high = ends
            elif len(ends) == 1:
                low, high = (ends[0], base) if float(ends[0].values[i]) < float(
                    base.values[i]) else (base, ends[0])
            else:
                continue
            width = float(high.values[i]) - float(low.values[i])
            if width == 0:
                continue
            for m in problem.metrics:
                d, lo, hi = paired_difference(low.rows, high.rows, m, s.seed,
                                              min(s.resamples, 500))
                out.append({"param": p.path, "metric": m.name, "at": float(base.values[i]),
                            "per_unit": d / width, "ci_low": lo / width,
                            "ci_high": hi / width,
                            "per_step": d / width * float(p.step) if p.step is not None
                            else None, "from": float(low.values[i]),
                            "to": float(high.values[i])})
            self._tick()
        return out


def is_feasible(problem: Problem, e: Evaluation, at: str = "value",
                scale: float = 1.0) -> bool:
    """Valid and within every constraint (at the point estimate, or at the interval's
    unfavourable end with ``at="ci"``; ``scale`` shrinks the ``<=`` limits)."""
    if not e.valid or not e.estimates:
        return False
    for c in problem.constraints:
        if at == "ci" and e.intervals:
            est = e.intervals[c.metric.name]
            value = est["ci_high"] if c.op == "<=" else est["ci_low"]
        else:
            value = e.estimates[c.metric.name]
        limit = c.limit * scale if c.op == "<=" else c.limit
        if not (value <= limit if c.op == "<=" else value >= limit):
            return False
    return True


def _signed(m: Metric, value: float) -> float:
    """Larger is better."""
    return value if m.sense == "max" else -value


def _as_value(value: Any) -> Value:
    if isinstance(value, Decimal | int | float):
        return value
    return float(value)
