"""Compound III's ``absorb`` and ``buyCollateral`` (Comet), as pure computations.

``absorb``: the protocol takes all of an underwater account's collateral and credits the
account its value times each asset's liquidation factor; debt beyond that is absorbed by
the reserves (which may go negative). ``buyCollateral``: anyone may buy the seized
collateral for the base asset at the store-front discount, while reserves are below target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marginengine.config import ProtocolConfig
from marginengine.fixedpoint import BPS, Rounding, bps_mul, div
from marginengine.ledger import Ledger


@dataclass(frozen=True)
class SeizedCollateral:
    """One collateral asset taken by ``absorb``."""

    asset: str
    amount: int
    value_base: int
    credited_base: int


@dataclass(frozen=True)
class AbsorbPlan:
    """The outcome of absorbing one account.

    Attributes
    ----------
    old_balance, new_balance
        The account's signed base balance before and after, in base-asset units
        (negative: debt). The new balance is never negative.
    bad_debt
        Base-asset units of debt the collateral did not cover, borne by the reserves.
    """

    seized: tuple[SeizedCollateral, ...]
    old_balance: int
    new_balance: int
    bad_debt: int

    @property
    def credit(self) -> int:
        """Base-asset units credited for the collateral (its discounted value)."""
        return sum(s.credited_base for s in self.seized)


def plan_absorb(
    debt: int,
    base_price: int,
    base_unit: int,
    collateral: list[tuple[str, int, int, int, int]],
) -> AbsorbPlan:
    """Compute ``absorb`` for an account owing ``debt`` base units.

    ``collateral`` lists ``(asset, amount, price, unit, liquidation_factor_bps)``.
    """
    seized = []
    delta_value = 0
    for asset, amount, price, unit, factor_bps in collateral:
        value = amount * price // unit
        credited = bps_mul(value, factor_bps, Rounding.DOWN)
        delta_value += credited
        seized.append(SeizedCollateral(asset, amount, value, credited))
    delta_balance = delta_value * base_unit // base_price
    old_balance = -debt
    new_balance = old_balance + delta_balance
    bad_debt = max(0, -new_balance)
    new_balance = max(0, new_balance)
    return AbsorbPlan(tuple(seized), old_balance, new_balance, bad_debt)


#: Comet's ``FACTOR_SCALE``: every factor (liquidation, store front) is a fraction of 1e18.
FACTOR_SCALE = 10**18
#: A basis point in ``FACTOR_SCALE`` units: Comet stores each asset factor with 4 decimals
#: (``descale = FACTOR_SCALE / 1e4``), so ``factor = bps * 1e14`` exactly.
_BPS_TO_FACTOR = FACTOR_SCALE // BPS


def store_front_price(asset_price: int, liquidation_factor_bps: int,
                      store_front_price_factor: int) -> int:
    """The collateral's price lowered by ``storeFrontPriceFactor x (1 - liquidationFactor)``.

    As ``Comet.quoteCollateral`` (compound-finance/comet@d5a30b0a ``contracts/Comet.sol``):
    both products are ``mulFactor`` at ``FACTOR_SCALE = 1e18``, each floored, so the
    discount keeps all the decimals of the product (``0.5555 x (1 - 0.9333) = 0.03705185``;
    floored to basis points it would be 0.037).

    Parameters
    ----------
    asset_price
        The collateral's price (8 decimals).
    liquidation_factor_bps
        Its liquidation factor in basis points (Comet stores asset factors with 4
        decimals: ``liquidationFactor = bps x 1e14`` exactly).
    store_front_price_factor
        ``storeFrontPriceFactor`` at ``FACTOR_SCALE`` (1e18: ``6 * 10**17`` is 60%), which
        Comet keeps whole (``CompoundRules.store_front_price_factor_scaled``).
    """
    discount = (store_front_price_factor
                * (FACTOR_SCALE - liquidation_factor_bps * _BPS_TO_FACTOR) // FACTOR_SCALE)
    return asset_price * (FACTOR_SCALE - discount) // FACTOR_SCALE


def quote_collateral(
    base_amount: int,
    base_price: int,
    base_unit: int,
    asset_price: int,
    asset_unit: int,
    liquidation_factor_bps: int,
    store_front_price_factor: int,
) -> int:
    """Collateral units ``base_amount`` buys at the store-front discount (Comet's quote).

    ``discount = storeFrontPriceFactor x (1 - liquidationFactor)``; the collateral's price
    is lowered by that discount (:func:`store_front_price`), then
    ``basePrice * baseAmount * assetScale / discountedPrice / baseScale``: Comet's two
    floored divisions equal the one floored division here. ``store_front_price_factor`` is
    at ``FACTOR_SCALE`` (1e18), the liquidation factor in basis points, as
    :func:`store_front_price` takes them.
    """
    discounted_price = store_front_price(asset_price, liquidation_factor_bps,
                                         store_front_price_factor)
    return div(base_price * base_amount * asset_unit, discounted_price * base_unit,
               Rounding.DOWN)


def base_for_collateral(
    collateral_amount: int,
    base_price: int,
    base_unit: int,
    asset_price: int,
    asset_unit: int,
    liquidation_factor_bps: int,
    store_front_price_factor: int,
) -> int:
    """Base-asset units that buy at most ``collateral_amount`` (the inverse of the quote;
    the factors as :func:`quote_collateral` takes them)."""
    discounted_price = store_front_price(asset_price, liquidation_factor_bps,
                                         store_front_price_factor)
    return div(collateral_amount * discounted_price * base_unit, base_price * asset_unit,
               Rounding.DOWN)


def absorb_collateral(config: ProtocolConfig, ledger: Ledger, prices: Mapping[str, int],
                      account_id: str) -> list[tuple[str, int, int, int, int]]:
    """The collateral ``absorb`` seizes from an account, as :func:`plan_absorb` takes it:
    ``(asset, amount, price, unit, liquidation_factor_bps)`` for every asset but the base
    that the account supplies, sorted by symbol."""
    base = config.base_asset
    account = ledger.accounts.get(account_id)
    out = []
    for asset in sorted(account.lending if account else ()):
        amount = ledger.supply_of(account_id, asset)
        if asset != base and amount:
            market = config.markets[asset]
            out.append((asset, amount, prices[asset], market.unit,
                        market.liquidation_factor_bps))
    return out


#: Comet's ``LiquidatorPoints`` field widths (``CometStorage.sol``: uint32 numAbsorbs,
#: uint64 numAbsorbed, uint128 approxSpend); Comet reverts past them.
POINTS_LIMITS = {"num_absorbs": 2**32 - 1, "num_absorbed": 2**64 - 1,
                 "approx_spend": 2**128 - 1}


@dataclass(frozen=True)
class LiquidatorPoints:
    """Comet's ``LiquidatorPoints`` of one absorber (compound-finance/comet@d5a30b0a
    ``contracts/CometStorage.sol``; credited by ``contracts/Comet.sol`` ``absorb``): how
    many ``absorb`` calls it made, how many accounts they absorbed, and the approximate
    spend, the gas of those calls times the block's base fee (wei). Comet's note: "an
    imperfect tool for governance"; nothing is paid from them."""

    num_absorbs: int = 0
    num_absorbed: int = 0
    approx_spend: int = 0

    def credited(self, absorbed: int, gas_used: int, base_fee: int) -> LiquidatorPoints:
        """The points after one ``absorb`` of ``absorbed`` accounts that used ``gas_used``
        gas at ``base_fee`` wei per gas, as Comet adds them (``numAbsorbs++``,
        ``numAbsorbed += accounts.length``, ``approxSpend += gasUsed * block.basefee``).

        Raises ``ValueError`` naming the field that would pass Comet's width (Comet
        reverts: checked ``++``, ``safe64``, ``safe128``)."""
        points = LiquidatorPoints(self.num_absorbs + 1, self.num_absorbed + absorbed,
                                  self.approx_spend + gas_used * base_fee)
        for name, limit in POINTS_LIMITS.items():
            if getattr(points, name) > limit:
                raise ValueError(f"{name}: {getattr(points, name)} would exceed Comet's "
                                 f"limit {limit}")
        return points

    def as_dict(self) -> dict[str, int]:
        """The three fields (Comet's names in snake case)."""
        return {"num_absorbs": self.num_absorbs, "num_absorbed": self.num_absorbed,
                "approx_spend": self.approx_spend}
