"""Portfolio-margin parameters, validated, with six presets: four of the scenario-grid
model (PMRM_2's), and Derive's two other managers, PMRM v1 and the Standard Risk Manager.

The model follows Derive's (Lyra v2) PMRM_2 (``derivexyz/v2-core``,
``src/risk-managers/PMRMLib_2.sol``); every one of its parameters has a field here, named
after it, plus the two rules another venue adds (Paradex's minimum-delta requirement; a
maintenance factor that is a fraction of the initial one is just ``mm_factor``). The
bounds are Derive's own setter checks (``setVolShockParams``, ``setMarginParams``,
``setOtherContingencyParams``, ``setSkewShockParameters``, ``setBasisContingencyParams``,
``setCollateralParameters``) where it has them. Fractions are plain decimals (0.03 is 3%).

Presets (sources and deviations in ``docs/presets.md``):

``derive-pm2``
    Derive's mainnet parameters, ``scripts/config-mainnet.sol`` (``getPMRM2Params``,
    ``getDefaultPM2Scenarios``: 33 scenarios, 23 regular, 8 tail with dampening, linear
    and abs skew) at v2-core commit 7736900d395703c4f675376caa4c315402943831.
``paradex``
    Paradex portfolio margin (docs.paradex.trade, Risk > Portfolio Margin): the 24
    scenarios with their weights, vol shocks +40% / -22% with powers 0.30 / 0.13, a
    one-day floor, the minimum-delta requirement (2% of |net delta| + 1% of hedged delta,
    times spot), MM = 50% of IM. No static discount, basis or per-position contingencies.
``deribit-like``
    A Deribit-style grid: spot moves -16% .. +16% in 4% steps, each with vol up and vol
    down (18 scenarios), no discounting or contingencies, MM = 80% of IM.
``span-like``
    CME SPAN's 16 risk arrays on a 15% price scan range: moves of 0, 1/3, 2/3 and 3/3 of
    the range up and down, each with vol up and down (14), plus two extreme moves of 3x
    the range counted at 35%; MM = 80% of IM.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, overload

from pydantic import Field, model_validator

from marginengine.config.base import PORTFOLIO_PRESET_NAMES, StrictModel, merge_tables
from marginengine.config.derive_managers import (
    PMRM1_PRESET,
    SRM_PRESET,
    Pmrm1MarginConfig,
    SrmMarginConfig,
)

NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Signed = Annotated[float, Field(ge=-20, le=20, allow_inf_nan=False)]

#: Volatility directions of a scenario: Derive's VolShockDirection (None, Up, Down,
#: Linear, Abs); ``linear`` and ``abs`` are the two skew scenarios.
VolDirection = Literal["none", "up", "down", "linear", "abs"]


class ScenarioConfig(StrictModel):
    """One scenario: a spot multiplier (1.18 is +18%), a vol direction, a weight."""

    spot_shock: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
    vol_shock: VolDirection
    dampening: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 1.0


class VolShockConfig(StrictModel):
    """Derive's ``VolShockParameters``: ``m = (30 days / max(tte, dte_floor))^power``,
    vol-up ``max(min_vol_up, vol (1 + vol_range_up m))``, vol-down
    ``vol max(0, 1 - vol_range_down m)``."""

    vol_range_up: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    vol_range_down: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    short_term_power: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    long_term_power: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    dte_floor_days: Annotated[float, Field(ge=0, le=400, allow_inf_nan=False)] = 1.0
    min_vol_up: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False)] = 0.0


class SkewShockConfig(StrictModel):
    """Derive's ``SkewShockParameters`` (the wings of the smile raised or lowered)."""

    linear_base_cap: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    abs_base_cap: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    linear_c_base: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
    abs_c_base: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
    min_k_star: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    width_scale: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    vol_param_static: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    vol_param_scale: Signed


class StaticDiscountConfig(StrictModel):
    """The static-discount part of Derive's ``MarginParameters``: a long expiry's shocked
    value times ``long_base exp(-tau (r long_rate_mult + long_rate_add))``, a short one's
    times ``min(1/D, short_base / exp(-tau (r short_rate_mult + short_rate_add)))``."""

    long_base: Annotated[float, Field(ge=0, le=4, allow_inf_nan=False)] = 1.0
    long_rate_mult: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    long_rate_add: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    short_base: Annotated[float, Field(ge=0, le=4, allow_inf_nan=False)] = 1.0
    short_rate_mult: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    short_rate_add: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0


class BasisConfig(StrictModel):
    """Derive's ``BasisContingencyParameters`` (the forward contingency)."""

    spot_up: Annotated[float, Field(gt=1, lt=3, allow_inf_nan=False)]
    spot_down: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
    add_factor: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False)]
    mult_factor: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False)]


class ContingencyConfig(StrictModel):
    """Derive's ``OtherContingencyParameters``: per-perp and per-naked-short-option
    contingencies (fractions of spot per unit; the IM ones are added on top of the MM
    ones), oracle confidence and stablecoin depeg."""

    mm_perp: Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)] = 0.0
    im_perp: Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)] = 0.0
    mm_option: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = 0.0
    im_option: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = 0.0
    conf_threshold: Fraction = 0.0
    conf_margin: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False)] = 0.0
    peg_loss_threshold: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.0
    peg_loss_factor: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0


class CollateralConfig(StrictModel):
    """Derive's ``CollateralParameters`` for one collateral asset: haircuts (MM, and IM
    on top of it; together at most 1) and whether it moves with the underlying
    (risk-cancelling: shocked with spot in every scenario)."""

    mm_haircut: Fraction = 0.0
    im_haircut: Fraction = 0.0
    risk_cancelling: bool = False

    @model_validator(mode="after")
    def _haircuts_sum(self) -> CollateralConfig:
        if self.mm_haircut + self.im_haircut > 1:
            raise ValueError(f"mm_haircut + im_haircut must be at most 1 "
                             f"(got {self.mm_haircut} + {self.im_haircut})")
        return self


class MinDeltaConfig(StrictModel):
    """Paradex's minimum-delta requirement: ``(net |net delta| + hedged hedged_delta)
    spot``, hedged delta = (gross - |net|) / 2; the risk is at least this."""

    net: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    hedged: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class PortfolioMarginConfig(StrictModel):
    """Every parameter of the portfolio-margin model.

    ``margin = MtM + cash + factor x min(worst scenario P&L, basis contingency,
    -min-delta risk) - contingencies``, the factor ``im_factor`` (plus the depeg add-on)
    or ``mm_factor``. Built from a preset (``preset = "derive-pm2"``) with overrides, or
    field by field.
    """

    preset: Literal["derive-pm2", "paradex", "deribit-like", "span-like"] | None = None
    scenarios: Annotated[list[ScenarioConfig], Field(min_length=1, max_length=256)]
    vol_shock: VolShockConfig
    skew: SkewShockConfig | None = None
    static_discount: StaticDiscountConfig = StaticDiscountConfig()
    basis: BasisConfig | None = None
    contingencies: ContingencyConfig = ContingencyConfig()
    collateral: dict[str, CollateralConfig] = Field(default_factory=dict)
    min_delta: MinDeltaConfig | None = None
    im_factor: Annotated[float, Field(ge=0.5, le=10, allow_inf_nan=False)] = 1.0
    mm_factor: Annotated[float, Field(ge=0.1, le=10, allow_inf_nan=False)] = 1.0
    #: Derive floors every expiry's rate at 0 (PMRM_2._initialiseExpiries).
    floor_rate_at_zero: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> PortfolioMarginConfig:
        # No mm_factor <= im_factor rule: Derive's setMarginParams bounds each factor on
        # its own (its own cases test_84 and test_87 set MM above IM).
        if self.skew is None and any(s.vol_shock in ("linear", "abs") for s in self.scenarios):
            raise ValueError("scenarios: a linear or abs (skew) scenario needs a [skew] table")
        return self


def _grid(steps: list[float]) -> list[dict[str, Any]]:
    return [{"spot_shock": s, "vol_shock": v} for s in steps for v in ("up", "down")]


def _derive_scenarios() -> list[dict[str, Any]]:
    # config-mainnet.sol getDefaultPM2Scenarios, in its order.
    out: list[dict[str, Any]] = [{"spot_shock": 1.18, "vol_shock": "up"}]
    for s in (1.135, 1.09, 1.045, 1.0, 0.955, 0.91, 0.865):
        out += [{"spot_shock": s, "vol_shock": v} for v in ("up", "none", "down")]
    out.append({"spot_shock": 0.82, "vol_shock": "up"})
    for s, d in ((0.34, 0.21), (0.67, 0.42), (1.5, 0.2772), (2.0, 0.1386), (3.0, 0.0693),
                 (4.0, 0.0462), (5.0, 0.03465), (6.0, 0.02772)):
        out.append({"spot_shock": s, "vol_shock": "up", "dampening": d})
    out += [{"spot_shock": 1.0, "vol_shock": "linear"}, {"spot_shock": 1.0, "vol_shock": "abs"}]
    return out


def _paradex_scenarios() -> list[dict[str, Any]]:
    # docs.paradex.trade, Risk > Portfolio Margin, "Full scenario table" (24 rows).
    out: list[dict[str, Any]] = [{"spot_shock": 1.16, "vol_shock": "up"}]
    for s in (1.12, 1.08, 1.04, 1.0, 0.96, 0.92, 0.88):
        out += [{"spot_shock": s, "vol_shock": "up"}, {"spot_shock": s, "vol_shock": "down"}]
    out.append({"spot_shock": 0.84, "vol_shock": "up"})
    for s, w in ((0.34, 0.24), (0.67, 0.48), (1.5, 0.32), (2.0, 0.16), (3.0, 0.08),
                 (4.0, 0.0533), (5.0, 0.04), (6.0, 0.032)):
        out.append({"spot_shock": s, "vol_shock": "up", "dampening": w})
    return out


def _span_scenarios(scan_range: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for frac in (0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0):
        out += [{"spot_shock": 1.0 + frac * scan_range, "vol_shock": v} for v in ("up", "down")]
    out += [{"spot_shock": 1.0 + 3 * scan_range, "vol_shock": "none", "dampening": 0.35},
            {"spot_shock": 1.0 - 3 * scan_range, "vol_shock": "none", "dampening": 0.35}]
    return out


PORTFOLIO_PRESETS: dict[str, dict[str, Any]] = {
    "derive-pm2": {
        "preset": "derive-pm2",
        "scenarios": _derive_scenarios(),
        "vol_shock": {"vol_range_up": 0.5, "vol_range_down": 0.3, "short_term_power": 0.3,
                      "long_term_power": 0.13, "dte_floor_days": 1.0, "min_vol_up": 0.4},
        "skew": {"linear_base_cap": 0.25, "abs_base_cap": 0.25, "linear_c_base": -0.1,
                 "abs_c_base": -0.1, "min_k_star": 0.01, "width_scale": 4.0,
                 "vol_param_static": 0.6, "vol_param_scale": 0.0},
        "static_discount": {"long_base": 1.05, "long_rate_mult": 0.0, "long_rate_add": 0.16,
                            "short_base": 0.95, "short_rate_mult": 0.0,
                            "short_rate_add": 0.16},
        "basis": {"spot_up": 1.045, "spot_down": 0.955, "add_factor": 0.5, "mult_factor": 2.0},
        "contingencies": {"mm_perp": 0.03, "im_perp": 0.01, "mm_option": 0.003,
                          "im_option": 0.002, "conf_threshold": 0.55, "conf_margin": 1.0,
                          "peg_loss_threshold": 0.99, "peg_loss_factor": 4.0},
        "im_factor": 1.0,
        "mm_factor": 0.8,
    },
    "paradex": {
        "preset": "paradex",
        "scenarios": _paradex_scenarios(),
        "vol_shock": {"vol_range_up": 0.40, "vol_range_down": 0.22, "short_term_power": 0.30,
                      "long_term_power": 0.13, "dte_floor_days": 1.0, "min_vol_up": 0.0},
        "min_delta": {"net": 0.02, "hedged": 0.01},
        "im_factor": 1.0,
        "mm_factor": 0.5,
        "floor_rate_at_zero": False,
    },
    "deribit-like": {
        "preset": "deribit-like",
        "scenarios": [{"spot_shock": 1.0, "vol_shock": "none"},
                      *_grid([1.0 + x / 100 for x in (-16, -12, -8, -4, 0, 4, 8, 12, 16)])],
        "vol_shock": {"vol_range_up": 0.45, "vol_range_down": 0.30, "short_term_power": 0.30,
                      "long_term_power": 0.13, "dte_floor_days": 1.0},
        "im_factor": 1.0,
        "mm_factor": 0.8,
        "floor_rate_at_zero": False,
    },
    "span-like": {
        "preset": "span-like",
        "scenarios": _span_scenarios(0.15),
        "vol_shock": {"vol_range_up": 0.25, "vol_range_down": 0.25, "short_term_power": 0.0,
                      "long_term_power": 0.0, "dte_floor_days": 1.0},
        "im_factor": 1.0,
        "mm_factor": 0.8,
        "floor_rate_at_zero": False,
    },
}


PORTFOLIO_PRESETS["derive-pm1"] = PMRM1_PRESET
PORTFOLIO_PRESETS["derive-srm"] = SRM_PRESET

#: Any portfolio-margin configuration: the scenario-grid model's (PMRM_2 and the presets
#: on it), PMRM v1's or the SRM's; :mod:`marginengine.margin.portfolio_rules` evaluates
#: each by its own rule.
PortfolioRules = PortfolioMarginConfig | Pmrm1MarginConfig | SrmMarginConfig

GridPreset = Literal["derive-pm2", "paradex", "deribit-like", "span-like"]


@overload
def portfolio_config(data: dict[str, Any] | None = None, *, preset: GridPreset,
                     source: str | None = None) -> PortfolioMarginConfig: ...
@overload
def portfolio_config(data: dict[str, Any] | None = None, *, preset: Literal["derive-pm1"],
                     source: str | None = None) -> Pmrm1MarginConfig: ...
@overload
def portfolio_config(data: dict[str, Any] | None = None, *, preset: Literal["derive-srm"],
                     source: str | None = None) -> SrmMarginConfig: ...
@overload
def portfolio_config(data: dict[str, Any] | None = None, preset: str | None = None,
                     source: str | None = None) -> PortfolioRules: ...
def portfolio_config(data: dict[str, Any] | None = None, preset: str | None = None,
                     source: str | None = None) -> PortfolioRules:
    """A validated portfolio-margin configuration from a preset and/or a table.

    Parameters
    ----------
    data
        Fields (a TOML ``[portfolio_margin]`` table); with ``preset`` (or a ``preset`` key
        in ``data``) they override the preset's tables key by key (the scenario-grid
        presets: one table level deep, as before; ``derive-srm``, whose tables nest per
        market: at every level, so ``{"markets": {"ETH": {"perp": {"mm_req": 0.05}}}}``
        changes that one field).
    preset
        One of :data:`PORTFOLIO_PRESET_NAMES`. It chooses the model:
        :class:`PortfolioMarginConfig` (``derive-pm2``, ``paradex``, ``deribit-like``,
        ``span-like``, and a table without a preset),
        :class:`~marginengine.config.derive_managers.Pmrm1MarginConfig` (``derive-pm1``) or
        :class:`~marginengine.config.derive_managers.SrmMarginConfig` (``derive-srm``).
    source
        Named in the error.

    Raises
    ------
    marginengine.errors.ConfigError
        An unknown preset, a field missing or out of range, each problem naming its path
        (``portfolio_margin.vol_shock.vol_range_up: ...``,
        ``portfolio_margin.markets.ETH.perp.im_req: ...``).
    """
    from marginengine.config.validation import validate_model
    from marginengine.errors import ConfigError

    if data is not None and not isinstance(data, dict):
        raise ConfigError([f"portfolio_margin: must be a table (got {type(data).__name__})"],
                          source=source)
    raw = dict(data or {})
    name = preset if preset is not None else raw.get("preset")
    merged: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str) or name not in PORTFOLIO_PRESETS:
            raise ConfigError([f"portfolio_margin.preset: unknown preset {name!r} (choose "
                               f"one of {', '.join(PORTFOLIO_PRESET_NAMES)})"], source=source)
        if preset is not None and raw.get("preset", preset) != preset:
            raise ConfigError([f"portfolio_margin.preset: {raw['preset']!r} in the table "
                               f"differs from the preset argument {preset!r}"], source=source)
        merged = {k: (dict(v) if isinstance(v, dict) else v)
                  for k, v in PORTFOLIO_PRESETS[name].items()}
    model: type[PortfolioMarginConfig | Pmrm1MarginConfig | SrmMarginConfig] = (
        Pmrm1MarginConfig if name == "derive-pm1"
        else SrmMarginConfig if name == "derive-srm" else PortfolioMarginConfig)
    if model is SrmMarginConfig:
        merged = merge_tables(merged, raw)
    else:
        for key, value in raw.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return validate_model(model, merged, source=source, prefix="portfolio_margin")
