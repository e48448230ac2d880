"""Aave v3 efficiency mode (e-mode): an account's collateral parameters in its category,
and the checks of entering, leaving or borrowing in one, as pure functions.

Each takes the version's :class:`~marginengine.config.families.EModeRules`, the market's
configuration and the account's category (``None``: no e-mode); the margin model, the
engine's handlers, the liquidation plan, the risk book and the simulator call them, so
every one of them reads a category the same way.

Sources (aave-dao/aave-v3-origin): tags v3.3.0 and v3.5.0 (``LIQUID``) and the v3.7.0
commit 4fbd7442 (``DECOUPLED``/``ISOLATED``), ``src/contracts/protocol/libraries/logic/``
``GenericLogic.sol`` (``calculateUserAccountData``), ``ValidationLogic.sol``
(``getUserReserveLtv``, ``validateBorrow``, ``validateSetUserEMode``),
``LiquidationLogic.sol`` (``executeLiquidationCall``'s liquidation bonus),
``EModeLogic.sol`` (v3.3, v3.5) and ``SupplyLogic.sol`` (v3.7) ``executeSetUserEMode``.
"""

from __future__ import annotations

from collections.abc import Iterable

from marginengine.config import MarketConfig, ProtocolConfig
from marginengine.config.emode import EModeCategory
from marginengine.config.families import EModeRules
from marginengine.decisions import Code, Refusal


def reserve_ltv_bps(version: EModeRules | None, market: MarketConfig, asset: str,
                    category: EModeCategory | None) -> int:
    """The LTV (bps) at which ``asset`` counts as the account's collateral.

    v3.3/v3.5 (``calculateUserAccountData``): a reserve LTV of 0 stays 0; otherwise the
    category's LTV for a category collateral, the reserve's for any other asset. v3.6+
    (``ValidationLogic.getUserReserveLtv``): a category collateral has the category's LTV,
    or 0 if it is in the category's ``ltvzeroBitmap``; in an ``isolated`` category (v3.7)
    any other asset has 0; else the reserve's LTV.
    """
    base = market.ltv_bps
    if category is None or version is None:
        return base
    inside = asset in category.collateral
    if version is EModeRules.LIQUID:
        return base if base == 0 or not inside else category.ltv_bps
    if inside:
        return 0 if asset in category.ltvzero else category.ltv_bps
    return 0 if category.isolated else base


def reserve_liquidation_threshold_bps(market: MarketConfig, asset: str,
                                      category: EModeCategory | None) -> int:
    """The liquidation threshold (bps) of ``asset`` in the account's health factor: the
    category's for a category collateral, else the reserve's (every version's
    ``calculateUserAccountData``). Collateral with a reserve threshold of 0 never counts
    (the category collaterals are collateral markets: see ``ProtocolConfig``)."""
    if category is not None and asset in category.collateral and market.collateral:
        return category.liquidation_threshold_bps
    return market.liquidation_threshold_bps


def liquidation_bonus_bps(market: MarketConfig, asset: str,
                          category: EModeCategory | None) -> int:
    """The liquidation bonus (Aave's 10500 form) of seizing ``asset``: the category's when
    the collateral is in its ``collateralBitmap``, else the reserve's
    (``LiquidationLogic.executeLiquidationCall``, every version)."""
    if category is not None and asset in category.collateral:
        return category.liquidation_bonus_bps
    return market.liquidation_bonus_bps


def validate_borrow_in_emode(version: EModeRules | None, asset: str, category_id: int,
                             category: EModeCategory | None) -> Refusal | None:
    """``validateBorrow``'s e-mode check: in a category, the asset must be borrowable in it
    (``NOT_BORROWABLE_IN_EMODE``). v3.3/v3.5 ask it after ``borrowingEnabled``, the caps and
    the sentinel; v3.6+ ask it *instead of* ``borrowingEnabled`` (an asset may be
    borrowable only inside an e-mode), before the cap: see
    :func:`borrowing_enabled_applies`."""
    if category_id == 0 or version is None:
        return None
    if category is None or asset not in category.borrowable:
        return Refusal(Code.NOT_BORROWABLE_IN_EMODE,
                       f"{asset} is not borrowable in e-mode category {category_id}",
                       {"asset": asset, "category": category_id})
    return None


def borrowing_enabled_applies(version: EModeRules | None, category_id: int) -> bool:
    """Whether a borrow needs the reserve's ``borrowingEnabled``: always before v3.6, and
    since v3.6 only outside e-mode (``validateBorrow``)."""
    return version in (None, EModeRules.LIQUID) or category_id == 0


def validate_set_user_emode(
    version: EModeRules, account: str, category_id: int, category: EModeCategory | None,
    borrowed: Iterable[str], collateral: Iterable[str],
    markets: dict[str, MarketConfig],
) -> Refusal | None:
    """``ValidationLogic.validateSetUserEMode``, before the switch (the health factor after
    it is the caller's: ``validateHealthFactor``, HF at least 1).

    The target category must exist: its liquidation threshold is not 0
    (``INCONSISTENT_EMODE_CATEGORY``); an account with no position may always switch.
    v3.3/v3.5: entering a category other than 0, every borrowed asset must be borrowable in
    it (``NOT_BORROWABLE_IN_EMODE``). v3.6+: for any target, 0 included, every borrowed
    asset must be borrowable there (the category's bit, or ``borrowingEnabled`` for 0:
    ``INVALID_DEBT_IN_EMODE``), and every enabled collateral must keep a nonzero LTV there
    (``getUserReserveLtv``: ``INVALID_COLLATERAL_IN_EMODE``), asset by asset in reserve
    order (here: by symbol).

    Parameters
    ----------
    borrowed, collateral
        The account's borrowed assets and its assets enabled as collateral.
    """
    if category_id != 0 and category is None:
        return Refusal(Code.INCONSISTENT_EMODE_CATEGORY,
                       f"e-mode category {category_id} is not configured",
                       {"category": category_id})
    borrowed, collateral = sorted(set(borrowed)), set(collateral)
    if version is EModeRules.LIQUID:
        if category is None:
            return None
        for asset in borrowed:
            if asset not in category.borrowable:
                return Refusal(
                    Code.NOT_BORROWABLE_IN_EMODE,
                    f"{account} borrows {asset}, which is not borrowable in e-mode "
                    f"category {category_id}: repay it first",
                    {"asset": asset, "category": category_id})
        return None
    for asset in sorted(set(borrowed) | collateral):
        market = markets[asset]
        if asset in borrowed and not (asset in category.borrowable if category is not None
                                      else market.borrowable):
            where = (f"e-mode category {category_id}" if category is not None
                     else "outside e-mode")
            return Refusal(Code.INVALID_DEBT_IN_EMODE,
                           f"{account} borrows {asset}, which is not borrowable {where}: "
                           "repay it first", {"asset": asset, "category": category_id})
        if asset in collateral and reserve_ltv_bps(version, market, asset, category) == 0:
            where = (f"e-mode category {category_id}" if category is not None
                     else "outside e-mode")
            return Refusal(Code.INVALID_COLLATERAL_IN_EMODE,
                           f"{account}'s collateral {asset} would have a loan-to-value of 0 "
                           f"{where}: withdraw it first",
                           {"asset": asset, "category": category_id})
    return None




def emode_problems(config: ProtocolConfig, category_id: int,
                   borrowed: Iterable[str]) -> list[tuple[str, str]]:
    """What is wrong with an account of a book in e-mode category ``category_id``
    borrowing ``borrowed``, as ``(what, reason)``: ``what`` is ``"emode"`` (the category
    is not configured, or the protocol has no e-mode) or a borrowed asset not borrowable
    there as ``validateBorrow`` has it (``margin/emode.py``: the category's borrowable
    list, and before v3.6 the market's ``borrowable`` too). Each caller names the field
    or line: the snapshot builder, and the book readers of the scan and the simulator."""
    version = config.rules.emode
    if category_id:
        if version is None:
            return [("emode", f"{config.preset} has no efficiency mode")]
        if config.emode_category(category_id) is None:
            known = ", ".join(str(c) for c in sorted(config.emode.categories)) \
                if config.emode and config.emode.categories else "none"
            return [("emode", f"unknown e-mode category {category_id} (categories: {known})")]
    category = config.emode_category(category_id)
    problems: list[tuple[str, str]] = []
    for asset in borrowed:
        market = config.markets[asset]
        if borrowing_enabled_applies(version, category_id) and not market.borrowable:
            problems.append((asset, f"{asset} is not borrowable"))
            continue
        refusal = validate_borrow_in_emode(version, asset, category_id, category)
        if refusal is not None:
            problems.append((asset, refusal.message))
    return problems


__all__ = [
    "borrowing_enabled_applies",
    "emode_problems",
    "liquidation_bonus_bps",
    "reserve_liquidation_threshold_bps",
    "reserve_ltv_bps",
    "validate_borrow_in_emode",
    "validate_set_user_emode",
]
