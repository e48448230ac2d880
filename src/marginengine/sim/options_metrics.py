"""Per-run figures of a scenario's options book (``[options]``), flat for Monte Carlo rows.

Two kinds (docs/optimize.md, "Options"):

- the book's **capital efficiency after set-up** (:func:`options_capacity`): the initial
  margin the portfolio rule requires of the accounts holding options, the notional they
  hold, and the share of the opening trades the rule admitted;
- the **outcome of the run** (:func:`options_outcome`): the figures of the summary's
  ``options`` block (auctions, bids, the security module drawn, the socialized loss) as
  top-level fields.

Sums are exact (rationals of the engine's ints and of the margin's exact value,
:meth:`~marginengine.margin.portfolio.PortfolioMargin.fraction`); the figures are USD floats
for statistics only: nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from marginengine.engine.events import Outcome, TradeOption
from marginengine.fixedpoint import PRICE_UNIT

if TYPE_CHECKING:
    from marginengine.engine import Engine


def options_capacity(engine: Engine, opening: Iterable[object],
                     rejected: Iterable[Outcome]) -> dict[str, float]:
    """The options book's capital efficiency at the engine's state (after set-up).

    Parameters
    ----------
    engine
        The engine after the opening trades.
    opening
        The set-up's events (the ``TradeOption`` among them are the trades asked for).
    rejected
        The refused outcomes so far (the trades the rule refused are among them).

    Returns
    -------
    dict
        ``options_initial_margin``: the sum over the accounts holding options of their
        initial-margin requirement, ``MtM - IM`` (Derive's initial margin is MtM less the
        requirement), in USD at the quote's price; ``options_notional``: the sum of
        ``|size| x spot`` of every position they hold, USD; ``options_leverage``: notional
        over that margin (0 without margin); ``options_trades_accepted``: accepted opening
        trades over those asked for (1 when none was asked). ``{}`` without options.
    """
    clearing, opts = engine.state.options, engine.config.options
    if clearing is None or opts is None:
        return {}
    quote_price = Fraction(engine.prices.get(opts.quote) or PRICE_UNIT, PRICE_UNIT)
    margin = notional = Fraction(0)
    for account in sorted(clearing.positions):
        held = {s: n for s, n in clearing.positions[account].items() if n}
        if not held:
            continue
        pm = engine.portfolio_margin(account)
        if pm is not None:
            margin += (pm.fraction("mtm") - pm.fraction("initial")) * quote_price
        for series, size in held.items():
            spot = engine.prices.get(series.underlying, 0)
            notional += Fraction(abs(size), clearing.size_unit) * Fraction(spot, PRICE_UNIT)
    asked = sum(1 for e in opening if isinstance(e, TradeOption))
    refused = sum(1 for o in rejected if isinstance(o.event, TradeOption))
    return {"options_initial_margin": float(margin),
            "options_notional": float(notional),
            "options_leverage": float(notional / margin) if margin > 0 else 0.0,
            "options_trades_accepted": (asked - refused) / asked if asked else 1.0}


def options_outcome(block: dict[str, Any] | None) -> dict[str, float]:
    """The summary's ``options`` block as flat run fields (``{}`` without one):
    ``options_bad_debt`` (socialized loss), ``options_security_module_used``,
    ``options_auctions_started``, ``options_auctions_insolvent``, ``options_bids`` and
    ``options_value_liquidated`` (mark-to-market sold to bidders), USD or counts."""
    if block is None:
        return {}
    return {"options_bad_debt": block["bad_debt"],
            "options_security_module_used": block["insurance_fund_used"],
            "options_auctions_started": block["auctions_started"],
            "options_auctions_insolvent": block["auctions_started_insolvent"],
            "options_bids": block["bids"],
            "options_value_liquidated": block["value_liquidated"]}


__all__ = ["options_capacity", "options_outcome"]
