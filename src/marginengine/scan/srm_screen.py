"""A float screen of Derive's Standard Risk Manager (``derive-srm``) over an engine's
option accounts, in one vectorized pass: every account's maintenance value and
requirement with a bound on their distance from the exact rule's, deciding nothing.

The exact rule is :func:`marginengine.margin.derive_srm.srm_margin` (wad ints, Derive's
truncations) on :func:`marginengine.margin.portfolio_rules.srm_portfolio` of the
account's portfolio, read through :func:`~marginengine.margin.portfolio.portfolio_state`.
An engine account is one SRM market (its underlying) holding options and cash only: no
perp, no base balance, so of the SRM's per-market terms only the options' remain in
maintenance (the perp's and the base's margins are 0; the oracle contingencies and the
depeg add-on are initial-margin terms). Per (account, expiry) group ``g``, with ``F`` the
expiry's forward (the spot, or the settlement price once a series of the expiry has
settled: :func:`~marginengine.margin.portfolio.expiry_of`, as the exact rule's portfolio
has it), marks ``m_i`` (undiscounted Black-76 at ``F``) and signed amounts ``a_i``:

- ``mtm_g = sum a_i m_i``;
- ``iso_g = sum over shorts`` of ``a m + mm_call_spot_req spot a`` (a call) or
  ``a m + min(mm_put_spot_req spot a, mm_put_mtm_req a m)`` (a put);
- ``worst_g = min(0, min over P in {0} and the group's strikes of sum a_i payoff_i(P))
  + unpaired_mm_scale F min(net calls, 0)``; the max loss does not depend on the
  market and is computed once, when the screen is built;
- ``margin_g = max(iso_g, worst_g)``;

and per account ``MtM = cash + sum mtm_g``, requirement ``MtM - MM = sum (mtm_g -
margin_g)`` and value ``max(MtM, 0)``, times the quote's price. The screen takes every
figure from the same floats as the exact rule's inputs
(:class:`~marginengine.scan.option_layout.OptionLayout`), and prices each series once.

**Why the bound is conservative.** Let ``u = 2**-53`` and per account ``m`` its
positions, ``q`` its settlement points paired with positions (``sum`` of the squared
group sizes) and ``N = |cash| + sum_i |a_i| (2 K_i + 2 K_max + 8 max(spot, F))``,
``K_max`` the largest strike of the position's group. Every term either path forms is bounded by
``N``: a mark is at most the forward (call) or the strike (put), a payoff at most
``|a| (K_max + K)``, the spot requirements at most ``|a| spot`` (their factors are at
most 1), the unpaired charge ``3 |a| F``. Every operation is 1-Lipschitz in the
marks, balances and payoffs (sums, ``min``, ``max``, the ``< 0`` tests being continuous
at 0: a sign read differently moves the result by at most the term's own error). The
paths differ in

1. the inputs: the exact rule fixes every float (balance, strike, spot, vol, cash) to wad
   from its shortest decimal, within ``u`` relative plus ``1e-18``; a Black-76 price
   moves by at most ``|dF| + |dK| + vega d(vol) <= 4 u (F + K)`` (deltas at most 1;
   ``vega sigma <= 0.5 F``) plus ``1e-18``-sized terms;
2. each mark: the same function, apart from the last bits of ``exp``, ``log``, ``sqrt``
   and the ``sigma sqrt(T) <= 1e-12`` limit branch (below ``64 u (F + K)``, as in
   :mod:`marginengine.scan.pmrm1_screen`), then fixed to the nearest wei;
3. the exact rule's truncations toward zero, each at most one wei (``1e-18``) times at
   most ``1 + |a|``, fewer than 16 per position and one per paired point;
4. the screen's own sums (at most ``m`` terms each: ``8 m u N``) and the last products
   with the quote's price.

So ``|screen - exact| <= (72 + 8 m) u N + 1e-18 (16 m + q) (1 + max |a|)`` in quote
currency. The screen allows ``(REL_ERROR + 8 m u) N + ABS_ERROR + ABS_PER_TERM (16 m
+ q) (1 + sum |a|)`` with :data:`REL_ERROR` ``1e-9`` (about ``6e4`` times the first
term) and :data:`ABS_PER_TERM` ``1e-15`` (1,000 wei), then ``+ 2`` base units for the
exact rule's floor of the value and ceiling of the requirement. An account the screen
cannot read (a missing price or surface, options on two underlyings, an underlying
without SRM parameters, no quote price) gets an infinite bound: its caller reads it
exactly, and the exact read raises or answers as it always did.

Only maintenance is screened: it is all the live watch decides on (levels,
liquidatable); initial margin (with the contingencies and the depeg add-on) is read
exactly where it is checked, trade by trade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from marginengine.config.derive_managers import SrmMarginConfig
from marginengine.engine import Engine
from marginengine.errors import FieldError
from marginengine.fixedpoint import WAD
from marginengine.pricing.black76 import price
from marginengine.pricing.scenarios import SECONDS_PER_YEAR
from marginengine.scan.option_layout import FloatArray, OptionLayout, sums
from marginengine.scan.portfolio_screen import ScreenResult

#: Relative error allowed per unit of an account's notional (see the module docstring).
REL_ERROR = 1e-9
#: Absolute error allowed, quote currency.
ABS_ERROR = 1e-6
#: Absolute error allowed per truncation of the exact rule, per unit held (1,000 wei).
ABS_PER_TERM = 1e-15
#: Unit roundoff of float64.
U = 2.0**-53


def _max_loss(layout: OptionLayout) -> FloatArray:
    """Each group's ``min(0, payoff at 0, payoff at each of its strikes)`` (float)."""
    n_groups = layout.group_account.size
    group, inst, amount = layout.position_group, layout.position_instrument, layout.amount
    strike, call = layout.strike[inst], layout.is_call[inst]
    sizes = np.bincount(group, minlength=n_groups)
    starts = np.cumsum(sizes) - sizes
    # Settlement at 0: the puts pay their strike.
    out = np.minimum(0.0, sums(group, np.where(call, 0.0, amount * strike), n_groups))
    # Settlement at each position's strike against every position of its group.
    reps = sizes[group]
    point = np.repeat(np.arange(group.size), reps)
    within = np.arange(point.size) - np.repeat(np.cumsum(reps) - reps, reps)
    other = starts[group][point] + within
    settle = strike[point]
    diff = settle - strike[other]
    pay = np.where(call[other], np.maximum(diff, 0.0), np.maximum(-diff, 0.0)) * amount[other]
    at_point = sums(point, pay, group.size)
    np.minimum.at(out, group, at_point)
    return out


class EngineSrmScreen:
    """The engine's option accounts screened by the SRM's maintenance margin in float.

    Parameters
    ----------
    engine
        An engine with ``[protocol.options]`` and ``portfolio_preset = "derive-srm"``.
    accounts
        The accounts to screen (each holding options on one underlying; accounts with
        lending or perps beside or an add-on are the caller's to read exactly).

    Raises
    ------
    ValueError
        The engine has no options clearing or another portfolio rule.
    """

    def __init__(self, engine: Engine, accounts: Iterable[str]) -> None:
        cfg = engine.state.portfolio_config
        if not isinstance(cfg, SrmMarginConfig) or engine.state.options is None:
            raise ValueError("the SRM screen needs an options clearing with derive-srm")
        self.engine = engine
        self.layout = layout = OptionLayout(engine, accounts)
        self.accounts = layout.accounts
        n_und = len(layout.underlyings)
        # Per underlying: mm_call_spot_req, mm_put_spot_req, mm_put_mtm_req,
        # unpaired_mm_scale (fractions); NaN where the SRM has no parameters.
        self._params = np.full((max(n_und, 1), 4), np.nan)
        for u, name in enumerate(layout.underlyings):
            try:
                o = cfg.params_for(name).markets[name].option
            except FieldError:
                continue  # the exact read raises this, naming the field
            self._params[u] = [o.mm_call_spot_req / WAD, o.mm_put_spot_req / WAD,
                               o.mm_put_mtm_req / WAD, o.unpaired_mm_scale / WAD]
        inst, group = layout.position_instrument, layout.position_group
        n_groups = layout.group_account.size
        self._max_loss = _max_loss(layout) if n_groups else np.zeros(0)
        calls = layout.is_call[inst]
        self._net_calls = sums(group, np.where(calls, layout.amount, 0.0), n_groups)
        k_max = np.zeros(n_groups)
        np.maximum.at(k_max, group, layout.strike[inst])
        self._group_k_max = k_max
        sizes = np.bincount(group, minlength=n_groups)
        n_acc = len(self.accounts)
        self._pairs = sums(layout.group_account, sizes.astype(np.float64) ** 2, n_acc)
        self._abs_size = sums(layout.position_account, np.abs(layout.amount), n_acc)

    def screen(self, prices: Mapping[str, int] | None = None,
               surfaces: Mapping[tuple[str, int], tuple[int, int]] | None = None
               ) -> ScreenResult:
        """Revalue every account at the engine's market now (or at ``prices`` and
        ``surfaces``, a what-if: :meth:`OptionLayout.market`) and screen it."""
        engine, layout = self.engine, self.layout
        opts = engine.config.options
        assert opts is not None
        n = len(self.accounts)
        quote_int = (engine.prices if prices is None else prices).get(opts.quote)
        if quote_int is None or not layout.series:
            # Nothing to revalue (no quote price, or no options held): read exactly.
            zero = np.zeros(n)
            return ScreenResult(self.accounts, zero, zero, np.full(n, np.inf))
        quote = float(quote_int)
        market, _ = layout.market(prices, surfaces)
        params = self._params[layout.underlying]
        inst_bad = ~(np.isfinite(market.spot) & (market.spot > 0) & np.isfinite(market.vol)
                     & np.isfinite(params[:, 0]))
        bad = layout.unreadable(inst_bad)
        spot = np.where(inst_bad, 1.0, market.spot)
        vol = np.where(inst_bad, 0.5, market.vol)
        params = np.where(inst_bad[:, None], 0.0, params)
        # The expiry's forward as the exact rule's SrmExpiry has it: the spot, or its
        # settlement price once a series of it has settled (margin.portfolio.expiry_of).
        forward = np.where(inst_bad, 1.0, market.forward + market.forward_fixed)
        mark = price(forward, layout.strike, market.sec_to_expiry / SECONDS_PER_YEAR, vol,
                     0.0, layout.is_call)
        inst, group, a = layout.position_instrument, layout.position_group, layout.amount
        n_groups = layout.group_account.size
        call, s, pr = layout.is_call[inst], spot[inst], params[inst]
        mtm = a * mark[inst]
        iso = np.where(a < 0, mtm + np.where(call, pr[:, 0] * s * a,
                                             np.minimum(pr[:, 1] * s * a, pr[:, 2] * mtm)),
                       0.0)
        g_mtm = sums(group, mtm, n_groups)
        g_iso = sums(group, iso, n_groups)
        g_inst = layout.group_instrument
        # The unpaired charge is on the forward (Derive's _calcNetBasicMarginSingleExpiry),
        # the isolated call and put requirements on the spot.
        worst = self._max_loss + params[g_inst, 3] * forward[g_inst] * np.minimum(
            self._net_calls, 0.0)
        margin = np.maximum(g_iso, worst)
        acc_mtm = layout.cash + layout.per_account(g_mtm)
        value = np.maximum(acc_mtm, 0.0) * quote
        requirement = layout.per_account(g_mtm - margin) * quote
        # The bound (module docstring).
        weight = np.abs(a) * (2.0 * layout.strike[inst] + 2.0 * self._group_k_max[group]
                              + 8.0 * np.maximum(s, forward[inst]))
        notional = np.abs(layout.cash) + sums(layout.position_account, weight, n)
        rel = REL_ERROR + 8.0 * layout.positions * U
        wei = ABS_PER_TERM * (16.0 * layout.positions + self._pairs) * (1.0 + self._abs_size)
        error = (rel * notional + ABS_ERROR + wei) * quote + 2.0
        error = np.asarray(np.where(bad, np.inf, error), dtype=np.float64)
        value = np.where(bad, 0.0, value)
        requirement = np.where(bad, 0.0, requirement)
        return ScreenResult(self.accounts, value, requirement, error)


__all__ = ["ABS_ERROR", "ABS_PER_TERM", "REL_ERROR", "EngineSrmScreen"]
