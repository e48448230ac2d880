"""The Cat of Liquidations 1.2: MakerDAO's ``cat.sol``, which starts Flipper auctions.

A pure state machine with exact integer arithmetic, as Maker computes it
(makerdao/dss@fa4f6630 ``src/cat.sol``). ``bite`` decides how much of an unsafe vault goes
to an English auction (:mod:`marginengine.liquidation.english_auction`) and keeps the DAI
out for liquidation (``litter``) under a global cap (``box``); ``claw`` releases it when
the Flipper deals or yanks the auction.

Its rules differ from the Dog's (:class:`~marginengine.liquidation.dutch_auction.Dog`,
Liquidations 2.0): the room left under ``box`` must itself be at least ``dust``; one bite
sends at most ``dunk`` to auction; a partial bite may leave a dusty vault (the Dog would
take the whole vault instead); the collateral taken is capped at the vault's.

Units as in Maker: ``art``, ``ink``, ``dart``, ``dink`` and ``chop`` are wads, ``rate`` and
``spot`` rays, ``box``, ``dunk``, ``dust``, ``litter`` and ``tab`` rads. A refused call
raises :class:`~marginengine.liquidation.dutch_auction.AuctionError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.fixedpoint import WAD
from marginengine.liquidation.dutch_auction import AuctionError, check_uint, dai, show_units


@dataclass(frozen=True)
class CatParams:
    """The Cat's parameters for one collateral type (``cat.sol`` and ``Vat.dust``).

    Attributes
    ----------
    box
        Most DAI (rad) out for liquidation at once, debt plus penalty (global).
    dunk
        Most DAI (rad) one ``bite`` sends to auction (the "liquidation quantity").
    chop
        Liquidation penalty, wad (``1.13e18`` is 13%).
    dust
        Smallest vault debt (rad); the room under ``box`` must be at least this.
    """

    box: int
    dunk: int
    chop: int
    dust: int

    def __post_init__(self) -> None:
        for name in ("box", "dunk", "chop", "dust"):
            check_uint("Cat/invalid-param", name, getattr(self, name))
        if self.chop == 0:
            # cat.sol divides by chop: a zero penalty factor would revert every bite.
            raise AuctionError("Cat/invalid-param", "chop must be positive (1e18 is no penalty)")


class Cat:
    """Liquidation of vaults of one collateral type into Flipper auctions (``cat.sol``).

    Attributes
    ----------
    params
        The limits, penalty and dust.
    litter
        DAI (rad) out for liquidation in running auctions.
    """

    def __init__(self, params: CatParams) -> None:
        self.params = params
        self.litter = 0

    def bite(
        self, art: int, ink: int, rate: int, spot: int | None = None
    ) -> tuple[int, int, int]:
        """Liquidate a vault, or the part ``dunk`` and ``box`` allow, and record its tab.

        The rules of ``Cat.bite``:

        - the vault must be unsafe, ``ink * spot < art * rate`` (checked when ``spot`` is
          given; pass ``None`` when the caller has already decided);
        - ``room = box - litter``; ``litter < box`` and ``room >= dust``, else
          ``Cat/liquidation-limit-hit``;
        - ``dart = min(art, min(dunk, room) * WAD / rate / chop)`` (each division floored);
        - ``dink = min(ink, ink * dart / art)`` (floored); both must be positive
          (``Cat/null-auction``);
        - ``tab = dart * rate * chop / WAD`` (floored) is added to ``litter``.

        Returns
        -------
        tuple[int, int, int]
            ``(dart, dink, tab)``: debt (wad) and collateral (wad) taken from the vault, and
            the auction's DAI target (rad); the Flipper is kicked with ``tab``, ``dink`` and
            a bid of 0.
        """
        check_uint("Cat/invalid-input", "art", art)
        check_uint("Cat/invalid-input", "ink", ink)
        check_uint("Cat/invalid-input", "rate", rate)
        if spot is not None:
            check_uint("Cat/invalid-input", "spot", spot)
            if not (spot > 0 and ink * spot < art * rate):
                raise AuctionError(
                    "Cat/not-unsafe",
                    f"collateral value {dai(ink * spot)} (ink x spot) is not below the debt "
                    f"{dai(art * rate)} (art x rate)",
                )
        if art == 0 or rate == 0:
            raise AuctionError("Cat/not-unsafe", "the vault has no debt")
        p = self.params
        room = p.box - self.litter
        if not (self.litter < p.box and room >= p.dust):
            raise AuctionError(
                "Cat/liquidation-limit-hit",
                f"{dai(self.litter)} is out for liquidation against a box of {dai(p.box)}: "
                f"the room left is below the dust of {dai(p.dust)}",
            )
        dart = min(art, min(p.dunk, room) * WAD // rate // p.chop)
        dink = min(ink, ink * dart // art)
        if dart == 0 or dink == 0:
            raise AuctionError(
                "Cat/null-auction",
                f"the bite takes {show_units(dart, 18)} debt and {show_units(dink, 18)} "
                "collateral: nothing to auction",
            )
        tab = dart * rate * p.chop // WAD
        self.litter += tab
        return dart, dink, tab

    def claw(self, rad: int) -> None:
        """Release ``rad`` of DAI from ``litter`` when an auction is dealt or yanked
        (``Cat.claw``, called by ``Flipper.deal`` and ``yank`` with the auction's tab)."""
        check_uint("Cat/invalid-input", "rad", rad)
        if rad > self.litter:
            raise AuctionError(
                "Cat/claw-exceeds-litter",
                f"cannot release {dai(rad)}: only {dai(self.litter)} is out for liquidation",
            )
        self.litter -= rad


__all__ = ["Cat", "CatParams"]
