"""A float screen of PMRM v1 (``derive-pm1``) over an engine's option accounts, in one
vectorized pass: every account's maintenance value and requirement with a bound on their
distance from the exact rule's, deciding nothing.

The exact rule is :func:`marginengine.margin.derive_pmrm1.evaluate_pmrm1` on the
account's :class:`~marginengine.margin.portfolio.Portfolio` (the engine's
``portfolio_margin``), read through :func:`~marginengine.margin.portfolio.
portfolio_state`. On an engine account that portfolio has no perp, no base collateral,
confidences 1 and a stable price of 1, every rate 0 and every forward the spot (or, once
a series of its expiry has settled, all fixed at the settlement price:
``margin.portfolio.expiry_of``, which the layout reads too), so the maintenance margin
is ``MtM + worst - static`` with

- ``MtM = cash + sum over expiries of base_e``, ``base_e = sum a_i v_i(1, none)``
  (undiscounted Black-76);
- ``worst = min(basis, min_s pnl_s)``, ``pnl_s = sum_e (X_e,s d(X_e,s) - base_e)``,
  ``X_e,s = sum a_i v_i(s)`` and ``d(x) = pos_e`` for ``x >= 0`` else 1 (the negative
  discount is 1 at rate 0), ``basis = sum_e min(up_e - base_e, down_e - base_e, 0)
  (add + mult tau_e)``;
- ``static = naked shorts x option_percent x spot``;

so the requirement (``MtM - MM``) is ``static - worst`` and the value ``max(MtM, 0)``,
both times the quote's price. The screen computes the very same formula from the very
same floats (:class:`~marginengine.scan.option_layout.OptionLayout`: strikes, amounts,
cash, spot, seconds to expiry and vols as the engine's portfolio reads them), with every
instrument priced once for all accounts (instruments x ``1 + 2 + scenarios``) and the
per-expiry sums taken by one sparse product.

**Why the bound is conservative.** Let ``u = 2**-53`` and, per account, ``m`` its
positions and ``N = |cash| + sum_i |a_i| (K_i + F_max) (2 + 2 c_e)`` with ``F_max =
F x max(1, largest scenario or basis shock) + F_fixed`` (the forward's variable part, the
spot, and its fixed part, 0 until a series of the expiry settles) and ``c_e = add + mult
tau_e`` the basis factor of the position's expiry. Every quantity either path forms is bounded by
``N``: a call is worth at most its shocked forward and a put its strike (Black-76 clips
to those bounds), so ``|X_e,s|, |base_e| <= sum_e |a_i| (K_i + F_max)``; ``0 <= pos_e <=
1`` (``base_static_discount <= 1``, ``exp`` of a non-positive number), so ``x d(x)`` is
1-Lipschitz in ``x`` and a sign classified differently on either side of 0 moves the
P&L by at most the error of ``x`` itself; ``min`` is 1-Lipschitz; a basis term has
Lipschitz constant ``2 c_e``. The two paths differ only in

1. each unit price: same function on identical inputs, apart from the last bits of
   ``exp``, ``log``, ``sqrt``, ``pow`` (NumPy's vector loops against libm's, each within
   4 ulp) and the ``sigma sqrt(T) <= 1e-12`` limit branch taken on either side (a change
   of at most ``0.4e-12 F``). Propagated through ``F N(d1) - K N(d2)`` (``N``'s
   derivative times ``|d|`` is at most 0.25, deltas at most 1) that is below ``64 u
   (F + K)`` per unit, so below ``64 u N`` summed;
2. summation order: the sparse product, the per-account sums and the naked-short sum
   add at most ``m`` terms each, every sum within ``m u`` of its terms' absolute sum on
   either side, so below ``8 m u N`` together;
3. the requirement's last subtraction and the product with the quote's price (``4 u``).

So ``|screen - exact| <= (72 + 8 m) u N`` in quote currency. The screen allows
``(REL_ERROR + 8 m u) N + ABS_ERROR`` with :data:`REL_ERROR` ``1e-9``, about ``4.5e6 u``
(so at least ``6e4`` times the first term), then ``+ 2`` base units for the exact
rule's floor of the value and ceiling of the requirement. An account the screen cannot
read (a missing price or surface, options on two underlyings, no quote price) gets an
infinite bound: its caller reads it exactly.

Only maintenance is screened: it is all the live watch decides on (levels,
liquidatable); initial margin is read exactly where it is checked, trade by trade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from marginengine.config.derive_managers import Pmrm1MarginConfig
from marginengine.engine import Engine
from marginengine.pricing.scenarios import (
    SECONDS_PER_YEAR,
    VOL_DIRECTIONS,
    VOL_NONE,
    BasisContingencyParams,
    Scenarios,
    StaticDiscountParams,
    VolShockParams,
    basis_contingency,
    expiry_scenario_pnl,
    scenario_values,
    static_discounts,
)
from marginengine.scan.option_layout import OptionLayout, sums
from marginengine.scan.portfolio_screen import ScreenResult

#: Relative error allowed per unit of an account's notional (see the module docstring).
REL_ERROR = 1e-9
#: Absolute error allowed, quote currency.
ABS_ERROR = 1e-6
#: Unit roundoff of float64.
U = 2.0**-53


class EnginePmrm1Screen:
    """The engine's option accounts screened by PMRM v1 in float.

    Parameters
    ----------
    engine
        An engine with ``[protocol.options]`` and ``portfolio_preset = "derive-pm1"``.
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
        if not isinstance(cfg, Pmrm1MarginConfig) or engine.state.options is None:
            raise ValueError("the PMRM v1 screen needs an options clearing with derive-pm1")
        self.engine = engine
        self.params = p = cfg.params
        self.layout = layout = OptionLayout(engine, accounts)
        self.accounts = layout.accounts
        self.basis = BasisContingencyParams(p.basis_spot_up, p.basis_spot_down,
                                            p.basis_add_factor, p.basis_mult_factor)
        grid_spot = [s for s, _ in p.scenarios]
        # One revaluation: the mark (1, none), the basis shocks up and down, the grid.
        self.scenarios = Scenarios.of(
            [1.0, p.basis_spot_up, p.basis_spot_down, *grid_spot],
            [VOL_NONE] * 3 + [VOL_DIRECTIONS[d] for _, d in p.scenarios])
        self.grid = Scenarios.of(grid_spot, [VOL_DIRECTIONS[d] for _, d in p.scenarios])
        self.vol_params = VolShockParams(p.vol_range_up, p.vol_range_down,
                                         p.short_term_power, p.long_term_power,
                                         p.dte_floor_days * 86_400, 0.0)
        self.discount = StaticDiscountParams(p.base_static_discount, p.rate_mult_scale,
                                             p.rate_add_scale, 1.0, 0.0, 0.0)
        self.max_shock = max(1.0, p.basis_spot_up, *grid_spot)
        # Naked shorts: per (account, expiry, strike), calls and puts netted.
        keys: dict[tuple[int, int, float], int] = {}
        key_of = [keys.setdefault((int(a), int(layout.expiry_time[i]), float(layout.strike[i])),
                                  len(keys))
                  for a, i in zip(layout.position_account.tolist(),
                                  layout.position_instrument.tolist(), strict=True)]
        self._strike_key = np.array(key_of, dtype=np.int64)
        self._key_account = np.zeros(len(keys), dtype=np.int64)
        for (a, _, _), k in keys.items():
            self._key_account[k] = a

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
        market, spots = layout.market(prices, surfaces)
        inst_bad = ~(np.isfinite(market.spot) & (market.spot > 0) & np.isfinite(market.vol))
        bad = layout.unreadable(inst_bad)
        if quote_int is None or not layout.series:
            # Nothing to revalue (no quote price, or no options held): read exactly.
            zero = np.zeros(n)
            return ScreenResult(self.accounts, zero, zero, np.full(n, np.inf))
        quote = float(quote_int)
        vol = np.where(inst_bad, 0.5, market.vol)
        # The variable and fixed parts of each forward (a settled series fixes its
        # expiry's: the shocks then move nothing), as the exact rule's portfolio has them.
        fwd = np.where(inst_bad, 1.0, market.forward)
        fixed = np.where(inst_bad, 0.0, market.forward_fixed)
        tte = market.sec_to_expiry
        values = scenario_values(fwd, fixed, layout.strike, tte, vol, 0.0, layout.is_call,
                                 self.scenarios, self.vol_params)
        x = np.asarray(layout.groups @ values, dtype=np.float64)  # groups x columns
        base = x[:, 0]
        g_tte = tte[layout.group_instrument]
        basis = layout.per_account(basis_contingency(base, x[:, 1], x[:, 2], g_tte,
                                                     self.basis))
        pos, neg = static_discounts(g_tte, np.zeros_like(g_tte), self.discount)
        pnl = layout.per_account(expiry_scenario_pnl(x[:, 3:], base, pos, neg, self.grid))
        worst = np.minimum(basis, pnl.min(axis=1))
        acc_spot = np.where(bad, 0.0, spots[np.maximum(layout.account_underlying, 0)])
        net = sums(self._strike_key, layout.amount, self._key_account.size)
        naked = sums(self._key_account, np.maximum(0.0, -net), n)
        static = naked * self.params.option_percent * acc_spot
        mtm = layout.cash + layout.per_account(base)
        value = np.maximum(mtm, 0.0) * quote
        requirement = (static - worst) * quote
        # The bound (module docstring): N per account, from each position's weight.
        f_max = fwd * self.max_shock + fixed
        c = self.basis.add_factor + self.basis.mult_factor * tte / SECONDS_PER_YEAR
        weight = (layout.strike + f_max) * (2.0 + 2.0 * c)
        notional = np.abs(layout.cash) + sums(
            layout.position_account, np.abs(layout.amount) * weight[layout.position_instrument], n)
        rel = REL_ERROR + 8.0 * layout.positions * U
        error = (rel * notional + ABS_ERROR) * quote + 2.0
        error = np.asarray(np.where(bad, np.inf, error), dtype=np.float64)
        value = np.where(bad, 0.0, value)
        requirement = np.where(bad, 0.0, requirement)
        return ScreenResult(self.accounts, value, requirement, error)


__all__ = ["ABS_ERROR", "REL_ERROR", "EnginePmrm1Screen"]
