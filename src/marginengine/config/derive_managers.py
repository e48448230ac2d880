"""Parameters of Derive's (Lyra v2) Standard Risk Manager (SRM) and first portfolio margin
(PMRM v1): the rules' own parameter structures, their setters' bounds, the validated
configuration tables of the ``derive-srm`` and ``derive-pm1`` presets, and Derive's
mainnet values for both.

Reference (read, not copied): ``derivexyz/v2-core`` at commit
7736900d395703c4f675376caa4c315402943831. The structures and bounds are
``src/risk-managers/StandardManager.sol`` (``setOptionMarginParams``,
``setPerpMarginRequirements``, ``setBaseAssetMarginFactor``,
``setOracleContingencyParams``, ``setDepegParameters``) and ``src/risk-managers/PMRMLib.sol``
(``setVolShockParams``, ``setMarginParams``, ``setOtherContingencyParams``,
``setBasisContingencyParams``). The mainnet values are ``scripts/config-mainnet.sol``:
``getSRMParams(market)`` and ``getSRMDepegParams`` (applied per market by
``scripts/deploy-market.s.sol`` ``_registerMarketToSRM`` and by ``deploy-core.s.sol``),
``getPMRMParams`` and ``getDefaultScenarios`` (``deploy-market.s.sol``
``_setupPMRMParams``).

The rules are :mod:`marginengine.margin.derive_srm` and
:mod:`marginengine.margin.derive_pmrm1`; the structures live here so that a configuration
is checked once, by the same constructors the rules take, when it is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from marginengine.config.base import StrictModel
from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import WAD

# =========================================================================== SRM structures


def wad_int(name: str, value: object, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """``value`` checked as an int (wad) in ``[minimum, maximum]``, else a
    :class:`FieldError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"must be an int in wad (got {value!r})")
    if minimum is not None and value < minimum:
        raise FieldError(name, f"must be >= {minimum} (got {value})")
    if maximum is not None and value > maximum:
        raise FieldError(name, f"must be <= {maximum} (got {value})")
    return value


@dataclass(frozen=True)
class OptionMarginParams:
    """Derive's ``OptionMarginParams`` (wad), bounds its ``setOptionMarginParams`` checks.

    Attributes
    ----------
    max_spot_req, min_spot_req
        The IM add-on of a short option is ``max(max_spot_req - otm, min_spot_req)`` of spot
        per unit (each in [0, 1.2]).
    mm_call_spot_req, mm_put_spot_req
        The MM add-on of a short call / put, a fraction of spot per unit ([0, 1]).
    mm_put_mtm_req
        A short put's MM is at least this fraction of its mark on top of the mark ([0, 1]).
    unpaired_im_scale, unpaired_mm_scale
        Forwards charged per net short call on top of the max loss ([1, 3]).
    mm_offset_scale
        A short put's IM is at least its MM times this ([1, 3]).
    """

    max_spot_req: int
    min_spot_req: int
    mm_call_spot_req: int
    mm_put_spot_req: int
    mm_put_mtm_req: int
    unpaired_im_scale: int
    unpaired_mm_scale: int
    mm_offset_scale: int

    def __post_init__(self) -> None:
        for name in ("max_spot_req", "min_spot_req"):
            wad_int(f"option.{name}", getattr(self, name), 0, 12 * WAD // 10)
        for name in ("mm_call_spot_req", "mm_put_spot_req", "mm_put_mtm_req"):
            wad_int(f"option.{name}", getattr(self, name), 0, WAD)
        for name in ("unpaired_im_scale", "unpaired_mm_scale", "mm_offset_scale"):
            wad_int(f"option.{name}", getattr(self, name), WAD, 3 * WAD)


@dataclass(frozen=True)
class PerpMarginParams:
    """Derive's ``PerpMarginRequirements``: fractions of the perp's notional (wad),
    ``0 < mm_req <= im_req < 1`` as ``setPerpMarginRequirements`` checks."""

    mm_req: int
    im_req: int

    def __post_init__(self) -> None:
        wad_int("perp.mm_req", self.mm_req, 1, WAD - 1)
        wad_int("perp.im_req", self.im_req, self.mm_req, WAD - 1)


@dataclass(frozen=True)
class BaseMarginParams:
    """Derive's ``BaseMarginParams``: the fraction of a base asset's value that counts as
    margin, and the extra scale for IM (each in [0, 1]; 0 counts nothing)."""

    margin_factor: int = 0
    im_scale: int = 0

    def __post_init__(self) -> None:
        wad_int("base.margin_factor", self.margin_factor, 0, WAD)
        wad_int("base.im_scale", self.im_scale, 0, WAD)


@dataclass(frozen=True)
class OracleContingencyParams:
    """Derive's ``OracleContingencyParams``: thresholds of confidence below which IM adds
    ``(1 - confidence) x oc_factor`` per unit of exposure (each in [0, 1]; a threshold of
    0 turns that contingency off)."""

    perp_threshold: int = 0
    option_threshold: int = 0
    base_threshold: int = 0
    oc_factor: int = 0

    def __post_init__(self) -> None:
        for name in ("perp_threshold", "option_threshold", "base_threshold", "oc_factor"):
            wad_int(f"oracle.{name}", getattr(self, name), 0, WAD)


@dataclass(frozen=True)
class DepegParams:
    """Derive's ``DepegParams``: below ``threshold`` (<= 1) of the stablecoin's price,
    IM adds ``(threshold - price) x depeg_factor`` (<= 3) of spot per perp and short
    option."""

    threshold: int = 0
    depeg_factor: int = 0

    def __post_init__(self) -> None:
        wad_int("depeg.threshold", self.threshold, 0, WAD)
        wad_int("depeg.depeg_factor", self.depeg_factor, 0, 3 * WAD)


@dataclass(frozen=True)
class MarketParams:
    """Everything the SRM sets per market (underlying)."""

    option: OptionMarginParams
    perp: PerpMarginParams
    base: BaseMarginParams = BaseMarginParams()
    oracle: OracleContingencyParams = OracleContingencyParams()


@dataclass(frozen=True)
class SrmParams:
    """The SRM's parameters: per market, and the manager's one depeg rule."""

    markets: Mapping[str, MarketParams]
    depeg: DepegParams = DepegParams()


# ====================================================================== PMRM v1 structure

#: The vol directions of a PMRM (v1) scenario (Derive's ``VolShockDirection`` without
#: PMRM_2's skew directions).
PMRM1_VOL_DIRECTIONS: tuple[str, ...] = ("up", "none", "down")

#: Derive's ``PMRMLib`` setter bounds, inclusive (``basis_spot_up`` must also be > 1 and
#: ``basis_spot_down`` < 1).
PMRM1_BOUNDS: dict[str, tuple[float, float]] = {
    "vol_range_up": (0, 2), "vol_range_down": (0, 2), "short_term_power": (0, 0.5),
    "long_term_power": (0, 0.5), "dte_floor_days": (0.01, 100), "im_factor": (1, 4),
    "base_static_discount": (0, 1), "rate_mult_scale": (0, 5), "rate_add_scale": (0, 5),
    "peg_loss_threshold": (0, 1), "peg_loss_factor": (0, 20), "conf_threshold": (0, 1),
    "conf_margin": (0, 1.5), "base_percent": (0, 1), "perp_percent": (0, 1),
    "option_percent": (0, 1), "basis_add_factor": (0, 5), "basis_mult_factor": (0, 5),
    "basis_spot_up": (1, 3), "basis_spot_down": (0, 1)}


def _bounded(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not low <= float(value) <= high:
        raise FieldError(name, f"must be a number in [{low:g}, {high:g}] (got {value!r})")


@dataclass(frozen=True)
class Pmrm1Params:
    """Every parameter of Derive's ``PMRMLib`` (fractions as floats), with the bounds of
    its setters (:data:`PMRM1_BOUNDS`).

    Attributes
    ----------
    scenarios
        ``(spot_shock, vol_direction)`` pairs, the direction ``"up"``, ``"none"`` or
        ``"down"`` (Derive's ``getDefaultScenarios``).
    vol_range_up, vol_range_down, short_term_power, long_term_power, dte_floor_days
        ``VolShockParameters``.
    im_factor, base_static_discount, rate_mult_scale, rate_add_scale
        ``MarginParameters``.
    peg_loss_threshold, peg_loss_factor, conf_threshold, conf_margin, base_percent,
    perp_percent, option_percent
        ``OtherContingencyParameters``.
    basis_spot_up, basis_spot_down, basis_add_factor, basis_mult_factor
        ``BasisContingencyParameters``.
    """

    scenarios: tuple[tuple[float, str], ...]
    vol_range_up: float
    vol_range_down: float
    short_term_power: float
    long_term_power: float
    dte_floor_days: float
    im_factor: float
    base_static_discount: float
    rate_mult_scale: float
    rate_add_scale: float
    peg_loss_threshold: float
    peg_loss_factor: float
    conf_threshold: float
    conf_margin: float
    base_percent: float
    perp_percent: float
    option_percent: float
    basis_spot_up: float
    basis_spot_down: float
    basis_add_factor: float
    basis_mult_factor: float

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise FieldError("scenarios", "must hold at least one scenario")
        for i, (shock, direction) in enumerate(self.scenarios):
            _bounded(field_path("scenarios", i, "spot_shock"), shock, 1e-18, 100.0)
            if direction not in PMRM1_VOL_DIRECTIONS:
                raise FieldError(field_path("scenarios", i, "vol_shock"),
                                 f"must be one of up, none, down (got {direction!r})")
        for name, (low, high) in PMRM1_BOUNDS.items():
            _bounded(name, getattr(self, name), low, high)
        if self.basis_spot_up == 1:
            raise FieldError("basis_spot_up", "must be > 1 (got 1)")
        if self.basis_spot_down == 1:
            raise FieldError("basis_spot_down", "must be < 1 (got 1)")


# ====================================================================== configuration


def _wad(name: str, value: Decimal) -> int:
    """A decimal fraction as wad, exactly (more than 18 decimals is refused, not rounded)."""
    scaled = value * WAD
    if scaled != scaled.to_integral_value():
        raise FieldError(name, f"has more than 18 decimals (got {value})")
    return int(scaled)


Dec = Annotated[Decimal, Field(allow_inf_nan=False)]


class SrmOptionConfig(StrictModel):
    """``[portfolio_margin.markets.NAME.option]``: Derive's ``OptionMarginParams`` as
    decimal fractions (0.15 is 15%)."""

    max_spot_req: Dec
    min_spot_req: Dec
    mm_call_spot_req: Dec
    mm_put_spot_req: Dec
    mm_put_mtm_req: Dec
    unpaired_im_scale: Dec
    unpaired_mm_scale: Dec
    mm_offset_scale: Dec


class SrmPerpConfig(StrictModel):
    """Derive's ``PerpMarginRequirements`` (fractions of the perp's notional)."""

    mm_req: Dec
    im_req: Dec


class SrmBaseConfig(StrictModel):
    """Derive's ``BaseMarginParams`` (0: the base asset counts nothing)."""

    margin_factor: Dec = Decimal(0)
    im_scale: Dec = Decimal(0)


class SrmOracleConfig(StrictModel):
    """Derive's ``OracleContingencyParams`` (a threshold of 0 turns it off)."""

    perp_threshold: Dec = Decimal(0)
    option_threshold: Dec = Decimal(0)
    base_threshold: Dec = Decimal(0)
    oc_factor: Dec = Decimal(0)


class SrmMarketConfig(StrictModel):
    """One market's SRM parameters."""

    option: SrmOptionConfig
    perp: SrmPerpConfig
    base: SrmBaseConfig = SrmBaseConfig()
    oracle: SrmOracleConfig = SrmOracleConfig()

    def params(self, where: str) -> MarketParams:
        """The rule's :class:`MarketParams` (wad); a bound error names ``where.field``."""
        def of(table: StrictModel, name: str) -> dict[str, int]:
            return {k: _wad(f"{where}.{name}.{k}", v) for k, v in table.model_dump().items()}

        try:
            return MarketParams(OptionMarginParams(**of(self.option, "option")),
                                PerpMarginParams(**of(self.perp, "perp")),
                                BaseMarginParams(**of(self.base, "base")),
                                OracleContingencyParams(**of(self.oracle, "oracle")))
        except FieldError as exc:
            field = exc.field if exc.field.startswith(where) else f"{where}.{exc.field}"
            raise FieldError(field, exc.reason) from None


class SrmDepegConfig(StrictModel):
    """Derive's ``DepegParams``."""

    threshold: Dec = Decimal(0)
    depeg_factor: Dec = Decimal(0)


class SrmMarginConfig(StrictModel):
    """Every parameter of Derive's Standard Risk Manager (preset ``derive-srm``).

    ``markets`` holds each market's parameters by underlying symbol; ``default`` those of
    an underlying not listed (``None``: such an underlying is refused, naming it). Checked
    by the rule's own structures (:class:`MarketParams`, :class:`DepegParams`: Derive's
    setter bounds), each error naming its path.
    """

    preset: Literal["derive-srm"] | None = None
    markets: dict[str, SrmMarketConfig] = Field(default_factory=dict)
    default: SrmMarketConfig | None = None
    depeg: SrmDepegConfig = SrmDepegConfig()

    @model_validator(mode="after")
    def _bounds(self) -> SrmMarginConfig:
        try:
            _ = self.market_params
            _ = self.depeg_params
        except FieldError as exc:
            # Reported at its own path (config.problems.validation_problems); the
            # rule's bounds are in wad, the table's figures decimal fractions.
            unit = " (in wad: 10**18 is 1)" if exc.reason.startswith("must be") else ""
            raise ValueError(f"portfolio_margin.{exc.field}: {exc.reason}{unit}") from None
        return self

    @cached_property
    def market_params(self) -> dict[str, MarketParams]:
        """Each market's :class:`MarketParams` (wad), by underlying."""
        return {name: m.params(f"markets.{name}") for name, m in self.markets.items()}

    @cached_property
    def default_params(self) -> MarketParams | None:
        """The parameters of an underlying not in :attr:`markets`."""
        return None if self.default is None else self.default.params("default")

    @cached_property
    def depeg_params(self) -> DepegParams:
        """The manager's :class:`DepegParams` (wad)."""
        return DepegParams(_wad("depeg.threshold", self.depeg.threshold),
                           _wad("depeg.depeg_factor", self.depeg.depeg_factor))

    def params_for(self, underlying: str | None) -> SrmParams:
        """The :class:`SrmParams` of one market, ``underlying``'s or the default's.

        Raises
        ------
        FieldError
            ``underlying`` without parameters and no default (``underlying``).
        """
        mp = self.market_params.get(underlying) if underlying is not None else None
        if mp is None:
            mp = self.default_params
        if mp is None:
            raise FieldError("underlying", f"{underlying!r} has no parameters in "
                                           f"portfolio_margin.markets and there is no "
                                           f"portfolio_margin.default")
        return SrmParams({underlying or "": mp}, self.depeg_params)


class Pmrm1ScenarioConfig(StrictModel):
    """One PMRM (v1) scenario: a spot multiplier and a vol direction (no dampening)."""

    spot_shock: float
    vol_shock: Literal["up", "none", "down"]


#: The flat fields of a ``derive-pm1`` table: every field of :class:`Pmrm1Params` but
#: ``scenarios`` (the rule's structure is the one list of them).
PMRM1_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Pmrm1Params)
                                      if f.name != "scenarios")


class Pmrm1MarginConfig(StrictModel):
    """Every parameter of Derive's first portfolio margin, PMRM v1 (preset ``derive-pm1``):
    ``scenarios``, and flat beside it the other fields of :class:`Pmrm1Params`
    (:data:`PMRM1_FIELDS`, Derive's ``PMRMLib`` structures), checked by that structure
    itself (types and Derive's setter bounds), each error naming its field; read them as
    :attr:`params`."""

    # The PMRMLib fields are not declared again here: they arrive as extra fields and are
    # checked, named, by _fields against Pmrm1Params.
    model_config = ConfigDict(extra="allow", frozen=True)

    preset: Literal["derive-pm1"] | None = None
    scenarios: Annotated[list[Pmrm1ScenarioConfig], Field(min_length=1, max_length=256)]

    @model_validator(mode="after")
    def _fields(self) -> Pmrm1MarginConfig:
        given = dict(self.model_extra or {})
        for name in given:
            if name not in PMRM1_FIELDS:
                raise ValueError(f"portfolio_margin.{name}: unknown field (check the "
                                 f"spelling)")
        for name in PMRM1_FIELDS:
            if name not in given:
                raise ValueError(f"portfolio_margin.{name}: required field is missing")
        try:
            _ = self.params
        except FieldError as exc:
            raise ValueError(f"portfolio_margin.{exc.field}: {exc.reason}") from None
        return self

    @cached_property
    def params(self) -> Pmrm1Params:
        """The rule's :class:`Pmrm1Params`."""
        given = dict(self.model_extra or {})
        return Pmrm1Params(scenarios=tuple((s.spot_shock, s.vol_shock) for s in self.scenarios),
                           **{name: given[name] for name in PMRM1_FIELDS})


# ============================================================================ presets

#: ``getSRMParams``' values common to every market (before its per-market branches).
_SRM_COMMON: dict[str, Any] = {
    "option": {"max_spot_req": "0.15", "min_spot_req": "0.13", "mm_call_spot_req": "0.09",
               "mm_put_spot_req": "0.09", "mm_put_mtm_req": "0.09",
               "unpaired_im_scale": "1.2", "unpaired_mm_scale": "1.1",
               "mm_offset_scale": "1.05"},
    "perp": {"mm_req": "0.065", "im_req": "0.1"},
    "oracle": {"perp_threshold": "0.55", "option_threshold": "0.55",
               "base_threshold": "0.55", "oc_factor": "1"},
}

#: ``getSRMParams``' per-market ``BaseMarginParams`` (margin factor, IM scale).
_SRM_BASES: dict[str, tuple[str, str]] = {
    "ETH": ("0.8", "0.9375"), "BTC": ("0.75", "0.93"), "USDT": ("0.98", "0.98"),
    "WSTETH": ("0.8", "0.9375"), "SFP": ("0.98", "0.98"), "SNX": ("0.7", "0.65"),
    "rswETH": ("0.65", "0.77"), "rsETH": ("0.65", "0.77"), "weETH": ("0.65", "0.77"),
    "DAI": ("0.925", "0.92"), "sDAI": ("0.875", "0.915"), "USDe": ("0.8", "0.875"),
    "PYUSD": ("0.925", "0.92"), "LBTC": ("0.65", "0.77"), "cbBTC": ("0.65", "0.77"),
    "eBTC": ("0.9", "0.945")}

#: ``getSRMParams``' per-market ``PerpMarginRequirements`` (MM, IM) where they differ.
_SRM_PERPS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("SOL", "DOGE", "TIA", "SUI", "NEAR", "WLD", "BNB", "AAVE", "OP", "ARB",
                     "LINK", "XRP", "AVAX", "UNI", "ENA"), ("0.067", "0.1")),
    **dict.fromkeys(("PEPE", "WIF", "TAO", "SEI", "EIGEN"), ("0.143", "0.2")),
    **dict.fromkeys(("BITCOIN", "DEGEN"), ("0.2", "0.33333")),
    "TRUMP": ("0.4545", "0.5")}

#: ``getSRMParams("SNX")``' own ``OptionMarginParams``.
_SRM_SNX_OPTION: dict[str, str] = {
    "max_spot_req": "0.25", "min_spot_req": "0.225", "mm_call_spot_req": "0.15",
    "mm_put_spot_req": "0.15", "mm_put_mtm_req": "0.15", "unpaired_im_scale": "1.4",
    "unpaired_mm_scale": "1.3", "mm_offset_scale": "1.05"}


def _srm_markets() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*_SRM_BASES, *_SRM_PERPS):
        m: dict[str, Any] = {k: dict(v) for k, v in _SRM_COMMON.items()}
        if name in _SRM_BASES:
            m["base"] = dict(zip(("margin_factor", "im_scale"), _SRM_BASES[name], strict=True))
        if name in _SRM_PERPS:
            m["perp"] = dict(zip(("mm_req", "im_req"), _SRM_PERPS[name], strict=True))
        if name == "SNX":
            m["option"] = dict(_SRM_SNX_OPTION)
        out[name] = m
    return out


#: ``derive-srm``: Derive mainnet's SRM (``getSRMParams`` for each of its 39 markets,
#: ``getSRMDepegParams``); an underlying not listed gets the common values with no base
#: margin (``getSRMParams`` reverts for it; ``default`` is this library's choice).
SRM_PRESET: dict[str, Any] = {
    "preset": "derive-srm",
    "markets": _srm_markets(),
    "default": {k: dict(v) for k, v in _SRM_COMMON.items()},
    "depeg": {"threshold": "0.99", "depeg_factor": "2"},
}


def _pmrm1_scenarios() -> list[dict[str, Any]]:
    # config-mainnet.sol getDefaultScenarios, in its order (23).
    out: list[dict[str, Any]] = [{"spot_shock": 1.2, "vol_shock": "up"}]
    for s in (1.15, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85):
        out += [{"spot_shock": s, "vol_shock": v} for v in ("up", "none", "down")]
    out.append({"spot_shock": 0.8, "vol_shock": "up"})
    return out


#: ``derive-pm1``: Derive mainnet's PMRM (v1), ``getPMRMParams`` and ``getDefaultScenarios``.
PMRM1_PRESET: dict[str, Any] = {
    "preset": "derive-pm1",
    "scenarios": _pmrm1_scenarios(),
    "vol_range_up": 0.6, "vol_range_down": 0.3, "short_term_power": 0.3,
    "long_term_power": 0.13, "dte_floor_days": 1.0,
    "im_factor": 1.25, "base_static_discount": 0.95, "rate_mult_scale": 1.0,
    "rate_add_scale": 0.12,
    "peg_loss_threshold": 0.99, "peg_loss_factor": 4.0, "conf_threshold": 0.55,
    "conf_margin": 1.0, "base_percent": 0.03, "perp_percent": 0.03, "option_percent": 0.02,
    "basis_spot_up": 1.05, "basis_spot_down": 0.95, "basis_add_factor": 1.0,
    "basis_mult_factor": 1.2,
}
