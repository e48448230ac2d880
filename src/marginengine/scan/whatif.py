"""What-if: every account's health under many price shocks, and the sensitivity curve.

A scenario shocks one or more assets' prices, or perp markets' index prices, by fractions
(``{"WETH": Decimal("-0.3"), "ETH-PERP": Decimal("-0.3")}``). Each shocked price is
computed once, exactly (``floor(price x (1 + fraction))``); a perp market's mark follows
its shocked index by the engine's mark rule (the median of the index, the last trade and
the index moved by the basis average: what the engine's mark would be after a
``SetPrice`` of that index), so a shock moves the mark by the same factor unless the last
trade is the median. The float screen and the exact confirmation both use those integers.

Only the accounts exposed to a shocked asset can change: for them the running sums are
moved by the shocked assets' terms, screened, and the band is confirmed by the engine at
the shocked prices and marks; every other account keeps the status of the last scan. A
shock on a perp market or on the perp quote asset rescreens every bucket holding perps
(their perp figures recomputed at the shocked marks and quote price). A curve of ``n``
price drops for one asset costs ``n`` passes over that asset's exposed accounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
from numpy.typing import NDArray

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan.book import RiskBook
from marginengine.scan.confirm import confirm_below, threshold_wad
from marginengine.scan.errors import ScanError
from marginengine.scan.kernels import ULP, classify, union_rows, update_ratio

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Price drops of the default sensitivity curve: 5%, 10%, ..., 50%.
DEFAULT_DROPS: tuple[Decimal, ...] = tuple(Decimal(i) / 100 for i in range(5, 55, 5))


#: Largest upward shock: a price times 1,001. Larger shocks take prices out of the float
#: range of the screen, and are not a stress test.
MAX_SHOCK = Decimal(1000)


def parse_fraction(value: object, where: str = "shock") -> Decimal:
    """A shock fraction (``-0.3``) as a Decimal greater than -1; raises :class:`ScanError`."""
    try:
        fraction = Decimal(str(value).strip())
    except InvalidOperation:
        raise ScanError(f"{where}: must be a number such as -0.3 (got {value!r})") from None
    if not fraction.is_finite() or fraction <= -1:
        raise ScanError(f"{where}: must be a finite fraction greater than -1 (got {value!r})")
    if fraction > MAX_SHOCK:
        raise ScanError(f"{where}: must be at most {MAX_SHOCK} (a {MAX_SHOCK + 1:,}-fold "
                        f"price; got {value!r})")
    return fraction


def shocked_price(price: int, fraction: Decimal) -> int:
    """``floor(price x (1 + fraction))``, at least 1 (prices stay positive)."""
    value = (Decimal(price) * (1 + fraction)).to_integral_value(rounding="ROUND_FLOOR")
    return max(1, int(value))


@dataclass(frozen=True)
class ScenarioOutcome:
    """The accounts below the threshold under one scenario, and their totals.

    Attributes
    ----------
    shocks
        The scenario: fraction per shocked asset.
    prices
        Exact shocked prices of the shocked assets and perp indices (8 decimals).
    marks
        Exact margin prices (marks, or oracle prices for ``margin_price = "oracle"``) of
        the shocked perp markets.
    accounts
        Accounts below the threshold (exact when the book has an engine).
    debt, collateral, weighted_collateral
        USD (float, display) totals over those accounts.
    shortfall
        USD: sum of ``debt - weighted collateral`` over those accounts.
    band
        Accounts decided by the engine's exact rule.
    unconfirmed
        Band accounts left undecided (a book without an engine).
    rows
        Their rows, when asked for (``keep_rows``).
    """

    shocks: dict[str, Decimal]
    prices: dict[str, int]
    accounts: int
    debt: float
    collateral: float
    weighted_collateral: float
    shortfall: float
    band: int
    unconfirmed: int
    rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    marks: dict[str, int] = field(default_factory=dict)


def scenarios_from_matrix(symbols: Sequence[str],
                          fractions: Sequence[Sequence[object]]) -> list[dict[str, Decimal]]:
    """Scenarios from a matrix: ``fractions[s][j]`` shocks ``symbols[j]`` in scenario ``s``."""
    out = []
    for s, row in enumerate(fractions):
        if len(row) != len(symbols):
            raise ScanError(f"scenario {s}: {len(row)} fractions for {len(symbols)} assets")
        out.append({sym: parse_fraction(f, f"scenario {s}.{sym}")
                    for sym, f in zip(symbols, row, strict=True)})
    return out


def evaluate(book: RiskBook, scenarios: Sequence[Mapping[str, object]],
             keep_rows: bool = False, exclude: IntArray | None = None
             ) -> list[ScenarioOutcome]:
    """Screen and confirm every account under each scenario (see the module docstring).

    The book is first brought up to date (an incremental scan, or a full scan at
    threshold 1 if it has never been scanned); its threshold is used throughout. Rows in
    ``exclude`` (sorted) are neither counted nor totalled nor returned: accounts another
    rule decides (the service's portfolio accounts that also lend, margined as one).
    """
    perps = book.perps
    parsed = []
    if isinstance(scenarios, Mapping | str | bytes):
        # One scenario passed bare would iterate its keys (an AttributeError on the first).
        raise ScanError("scenarios: must be a list of scenarios, each a mapping of asset "
                        "to fraction (got one mapping: wrap it in a list)"
                        if isinstance(scenarios, Mapping) else
                        f"scenarios: must be a list of scenarios (got {scenarios!r})")
    for s, scenario in enumerate(scenarios):
        if not isinstance(scenario, Mapping):
            raise ScanError(f"scenario {s}: must be a mapping of asset to fraction such as "
                            f"{{'WETH': '-0.3'}} (got {scenario!r})")
        shocks: dict[str, Decimal] = {}
        for symbol, fraction in scenario.items():
            if symbol in perps.column:
                priced = perps.index_int[perps.column[symbol]] > 0
            elif symbol in book.assets.column:
                priced = book.assets.price_int[book.assets.column[symbol]] > 0
            else:
                raise ScanError(f"scenario {s}: unknown asset {symbol!r} (markets: "
                                f"{', '.join([*book.assets.symbols, *perps.symbols])})")
            if not priced:
                raise ScanError(f"scenario {s}: {symbol} has no price to shock")
            shocks[symbol] = parse_fraction(fraction, f"scenario {s}.{symbol}")
        parsed.append(shocks)
    base = book.incremental_scan()
    t = base.threshold
    t_wad = threshold_wad(t)
    assets = book.assets
    w = assets.weights()
    below_all = book.below_rows()
    cw_below, dv_below = book.sums(below_all)
    raw_below = book.collateral.subset_sums(below_all, w.raw_collateral)
    perp = book.perps.rows()[0] if book.perps.buckets else np.zeros(0, dtype=np.int64)
    quote = perps.quote_asset
    cache: dict[tuple[int, ...], tuple[IntArray, FloatArray, FloatArray, FloatArray]] = {}
    # Per market: its collateral columns' (column, rows, values) (its own and its e-mode
    # columns), then its debt rows and values.
    exposures: dict[int, tuple[list[tuple[int, IntArray, FloatArray]], IntArray,
                               FloatArray]] = {}
    out = []
    for shocks in parsed:
        cols = tuple(sorted(assets.column[s] for s in shocks if s in assets.column))
        perp_hit = any(s in perps.column or s == quote for s in shocks)
        for k in cols:
            if k not in exposures:
                exposures[k] = ([(j, *book.collateral.exposure(j))
                                 for j in assets.coll_columns[k]], *book.debt.exposure(k))
        key = (*cols, -1) if perp_hit else cols
        if key not in cache:
            parts = [np.concatenate([*(c[1] for c in exposures[k][0]), exposures[k][1]])
                     for k in cols]
            rows = union_rows([*parts, perp if perp_hit else perp[:0]])
            cw0, dv0 = book.sums(rows)
            cache[key] = (rows, cw0, dv0,
                          book.collateral.subset_sums(rows, w.raw_collateral))
        rows, cw0, dv0, raw0 = cache[key]
        overrides = {assets.column[s]: shocked_price(assets.price_int[assets.column[s]], f)
                     for s, f in shocks.items() if s in assets.column}
        indices = {perps.column[s]: shocked_price(perps.index_int[perps.column[s]], f)
                   for s, f in shocks.items() if s in perps.column}
        new_marks = perps.shocked_marks(indices)
        price = assets.price.copy()
        for k, p in overrides.items():
            price[k] = float(p)
        w2 = assets.weights(price)
        cw, dv, raw = cw0.copy(), dv0.copy(), raw0.copy()
        amplify = 1.0
        for k in cols:
            coll_parts, d_rows, d_vals = exposures[k]
            ratio = update_ratio(w.debt[k], w2.debt[k])
            for j, c_rows, c_vals in coll_parts:
                at = np.searchsorted(rows, c_rows)
                cw[at] += c_vals * (w2.collateral[j] - w.collateral[j])
                raw[at] += c_vals * (w2.raw_collateral[j] - w.raw_collateral[j])
                ratio = max(ratio, update_ratio(w.collateral[j], w2.collateral[j]))
            at = np.searchsorted(rows, d_rows)
            dv[at] += d_vals * (w2.debt[k] - w.debt[k])
            amplify *= ratio
        b = book.bounds(float(t), price, amplify, 4.0 * ULP * len(cols) * amplify)
        sure, band = classify(cw, dv, b)
        if len(perp):
            # Buckets holding perps are judged on their whole margin, at the shocked
            # marks and quote price when the scenario moves them.
            slots = perps.slots_of(rows)
            mine = slots >= 0
            if mine.any():
                figures = None
                if perp_hit:
                    mark = perps.mark.copy()
                    for k, m in new_marks.items():
                        mark[k] = m / PRICE_UNIT
                    figures = book.perp_figures_at(mark, price)
                p_rows, p_sure, p_band = book.perp_screen(rows, b, figures, cw, dv)
                sure[mine] = False
                band[mine] = False
                at = np.searchsorted(rows, p_rows)
                sure[at] = p_sure
                band[at] = p_band
        below = sure.copy()
        band_at = np.flatnonzero(band)
        unconfirmed = 0
        if len(band_at):
            if book.engine is None:
                unconfirmed = len(band_at)
            else:
                ids = book.accounts.ids(rows[band_at])
                marks = None
                if new_marks:
                    marks = book.engine.margin_prices()
                    marks.update({perps.symbols[k]: m for k, m in new_marks.items()})
                table = {**book.engine.prices, **assets.prices(overrides)}
                flags = confirm_below(book.engine, ids, t_wad, table, marks)
                below[band_at] = np.asarray(flags, dtype=bool)
        keep = ~np.isin(below_all, rows)
        if exclude is not None and len(exclude):
            below &= ~np.isin(rows, exclude)
            keep &= ~np.isin(below_all, exclude)
        totals = np.array([
            dv[below].sum() + dv_below[keep].sum(),
            raw[below].sum() + raw_below[keep].sum(),
            cw[below].sum() + cw_below[keep].sum(),
        ]) / PRICE_UNIT
        result_rows = (np.sort(np.concatenate([rows[below], below_all[keep]]))
                       if keep_rows else np.zeros(0, dtype=np.int64))
        out.append(ScenarioOutcome(
            shocks=dict(shocks),
            prices={**{assets.symbols[k]: p for k, p in overrides.items()},
                    **{perps.symbols[k]: p for k, p in indices.items()}},
            accounts=int(np.count_nonzero(below)) + int(np.count_nonzero(keep)),
            debt=float(totals[0]),
            collateral=float(totals[1]),
            weighted_collateral=float(totals[2]),
            shortfall=float(totals[0] - totals[2]),
            band=len(band_at),
            unconfirmed=unconfirmed,
            rows=result_rows,
            marks={perps.symbols[k]: m for k, m in new_marks.items()},
        ))
    return out


def shock_curve(book: RiskBook, asset: str, drops: Sequence[object] = DEFAULT_DROPS,
                base: Mapping[str, object] | None = None) -> list[ScenarioOutcome]:
    """The sensitivity curve: accounts and value below the threshold as ``asset`` drops by
    each fraction of ``drops`` (0.3 = -30%), on top of the ``base`` shocks if any."""
    scenarios = []
    for d in drops:
        drop = parse_fraction(d, "drop")
        if not 0 <= drop < 1:
            raise ScanError(f"drop: must be at least 0 and below 1 (got {d!r})")
        scenario = dict(base or {})
        start = parse_fraction(scenario.get(asset, 0), f"shock {asset}")
        scenario[asset] = (1 + start) * (1 - drop) - 1
        scenarios.append(scenario)
    return evaluate(book, scenarios)
