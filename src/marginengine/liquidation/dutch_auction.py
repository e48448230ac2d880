"""Dutch collateral auctions: MakerDAO's Liquidations 2.0 (``dog.sol`` and ``clip.sol``).

Two pure state machines with exact integer arithmetic, as Maker computes it:

- :class:`Dog` decides *how much* of a vault is liquidated (``bark``): all of it, or a part
  when the global (``Hole``) and per-collateral (``hole``) limits on DAI in auctions would be
  exceeded, never leaving a dusty vault nor starting a dusty auction. It keeps the DAI
  currently in auctions (``Dirt``/``dirt``) and releases it when told (``digs``).
- :class:`Clipper` runs the auctions (``kick``, ``take``, ``redo``): the price starts at
  ``top = feed price * buf`` and falls along an :class:`~marginengine.liquidation.abaci.Abacus`
  curve; anyone buys any part at the current price; an auction that ran too long
  (``tail``) or fell too far (``cusp``) must be reset (``redo``) at a fresh price.

Units, as in Maker: collateral (``lot``, ``slice``, ``ink``) and normalised debt (``art``)
are wads (1e18); prices and factors (``top``, ``buf``, ``cusp``, ``rate``, ``spot``) are rays
(1e27); DAI targets and payments (``tab``, ``owe``, ``tip``, ``coin``, ``Hole``, ``dust``)
are rads (1e45 = DAI wad x ray). ``chip`` and ``chop`` are wads. :func:`wad_to_rad`,
:func:`rad_to_wad`, :func:`units_to_ray` and :func:`feed_price` convert.

Nothing here moves money or reads a clock: every call takes ``now`` (integer seconds) and
returns what the caller must move (``coin`` to the keeper, ``owe`` from the buyer,
``slice`` to the buyer, ``leftover_lot`` back to the vault owner, ``digs`` to the Dog). A
refused call raises :class:`AuctionError` and changes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal, localcontext

from marginengine.decisions import Code
from marginengine.fixedpoint import PRICE_DECIMALS, RAY, WAD, Rounding, div
from marginengine.liquidation.abaci import Abacus
from marginengine.liquidation.base import LiquidationRefused

#: One DAI in rad: a wad of DAI times a ray (Maker's unit for ``tab``, ``owe``, ``dust``).
RAD = 10**45
#: 1e9, the wad-to-ray scale (Maker's ``BLN``).
BLN = 10**9

# Storage widths of ``Clipper.chip`` (uint64) and ``Clipper.tip`` (uint192) in clip.sol.
_CHIP_LIMIT = 2**64
_TIP_LIMIT = 2**192


# --- Units ------------------------------------------------------------------------------


def wad_to_rad(amount_wad: int) -> int:
    """Convert a DAI amount in wad (1e18) to rad (1e45), exactly."""
    return amount_wad * RAY


def rad_to_wad(amount_rad: int, rounding: Rounding = Rounding.DOWN) -> int:
    """Convert a DAI amount in rad (1e45) to wad (1e18) with the rounding asked.

    Round *up* what a buyer pays (``owe``) and *down* what the protocol pays out (``coin``).
    """
    return div(amount_rad, RAY, rounding)


def units_to_ray(price: int, decimals: int = PRICE_DECIMALS) -> int:
    """Convert a price with ``decimals`` decimals (8 by default, the oracle layer's) to ray."""
    if not 0 <= decimals <= 27:
        raise ValueError(f"decimals must be in [0, 27], got {decimals}")
    scale: int = 10 ** (27 - decimals)
    return price * scale


def feed_price(val: int, par: int = RAY) -> int:
    """The Clipper's feed price in ray: the OSM value ``val`` (wad) over ``par`` (ray).

    ``clip.sol`` ``getFeedPrice``: ``rdiv(val * BLN, par)``, floored; with ``par = 1``
    (one DAI per USD) it is ``val`` scaled to ray.
    """
    return div(val * BLN * RAY, par, Rounding.DOWN)


def chost_of(dust: int, chop: int) -> int:
    """Maker's ``chost``: ``wmul(dust, chop)``, the smallest tab a partial purchase may leave."""
    return _wmul(dust, chop)


def _rmul(x: int, y: int) -> int:
    return x * y // RAY


def _wmul(x: int, y: int) -> int:
    return x * y // WAD


def _rdiv(x: int, y: int) -> int:
    return x * RAY // y


# --- Errors and formatting --------------------------------------------------------------


class AuctionError(LiquidationRefused, ValueError):
    """An auction rule refused a call; nothing was changed.

    Parameters
    ----------
    code
        Maker's revert reason (``"Clipper/too-expensive"``, ``"Dog/liquidation-limit-hit"``,
        ``"Flipper/bid-not-higher"``...), for programs.
    detail
        What was wrong, with the numbers, for people.
    """

    def __init__(self, code: str, detail: str) -> None:
        known = code in Code._value2member_map_
        super().__init__(f"{code}: {detail}", Code(code) if known else Code.MAKER_REVERT,
                         {"revert": code})
        self.code = code
        self.detail = detail


def show_units(amount: int, decimals: int) -> str:
    with localcontext() as ctx:
        ctx.prec = 120
        text = f"{Decimal(amount).scaleb(-decimals):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def dai(amount_rad: int) -> str:
    """Format a rad amount as DAI for messages (exact, trailing zeros trimmed)."""
    return f"{show_units(amount_rad, 45)} DAI"


def show_gem(amount_wad: int) -> str:
    return f"{show_units(amount_wad, 18)} gem"


def _ray(amount_ray: int) -> str:
    return show_units(amount_ray, 27)


def check_uint(code: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AuctionError(code, f"{name} must be a non-negative int, got {value!r}")
    return value


# --- Dog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DogParams:
    """The liquidator's parameters for one collateral type (``dog.sol`` and ``Vat.dust``).

    Attributes
    ----------
    Hole
        Most DAI (rad) all active auctions may seek at once, debt plus penalty.
    hole
        Most DAI (rad) this collateral's active auctions may seek at once.
    chop
        Liquidation penalty, wad, at least 1 (``1.13e18`` is 13%).
    dust
        Smallest vault debt (rad): no vault is left, and no auction started, below it.
    """

    Hole: int
    hole: int
    chop: int
    dust: int

    def __post_init__(self) -> None:
        for name in ("Hole", "hole", "chop", "dust"):
            check_uint("Dog/invalid-param", name, getattr(self, name))
        if self.chop < WAD:
            raise AuctionError(
                "Dog/file-chop-lt-WAD",
                f"chop must be at least 1 (1e18), got {show_units(self.chop, 18)}",
            )


class Dog:
    """Liquidation of vaults of one collateral type into auctions (``dog.sol``).

    Attributes
    ----------
    params
        The limits, penalty and dust.
    Dirt
        DAI (rad) sought by all active auctions (global).
    dirt
        DAI (rad) sought by this collateral's active auctions. With one collateral type the
        two move together; both are kept so the rule reads as Maker's.
    """

    def __init__(self, params: DogParams) -> None:
        self.params = params
        self.Dirt = 0
        self.dirt = 0

    def room(self) -> int:
        """DAI (rad) that may still enter auctions: ``min(Hole - Dirt, hole - dirt)``.

        Zero when a limit is reached or (after a dusty overshoot, see :meth:`bark`) passed.
        """
        return max(0, min(self.params.Hole - self.Dirt, self.params.hole - self.dirt))

    def bark(
        self, art: int, ink: int, rate: int, spot: int | None = None
    ) -> tuple[int, int, int]:
        """Liquidate a vault, or the part of it the limits allow, and record its tab.

        The rules of ``dog.bark``:

        - the vault must be unsafe, ``ink * spot < art * rate`` (checked when ``spot`` is
          given; pass ``None`` when the caller has already decided);
        - ``Hole > Dirt`` and ``hole > dirt``, else ``Dog/liquidation-limit-hit``;
        - ``dart = min(art, room * WAD / rate / chop)`` (each division floored);
        - if that leaves ``(art - dart) * rate < dust``, the whole vault goes (``dart = art``):
          the limits may then be passed by less than ``dust * chop``; otherwise the partial
          auction itself must not be dusty (``dart * rate >= dust``);
        - ``dink = ink * dart / art`` (floored), which must be positive;
        - ``tab = dart * rate * chop / WAD`` (floored) is added to ``Dirt`` and ``dirt``.

        Parameters
        ----------
        art
            The vault's normalised debt, wad (its debt in DAI is ``art * rate``).
        ink
            The vault's collateral, wad.
        rate
            The collateral type's debt index, ray.
        spot
            Price with the liquidation ratio applied, ray (``Vat.ilks.spot``); optional.

        Returns
        -------
        tuple[int, int, int]
            ``(dart, dink, tab)``: debt (wad) and collateral (wad) taken from the vault, and
            the auction's DAI target in rad. The debt written off to the system is
            ``dart * rate`` (rad); the caller kicks the auction with ``tab`` and ``dink``.
        """
        check_uint("Dog/invalid-input", "art", art)
        check_uint("Dog/invalid-input", "ink", ink)
        check_uint("Dog/invalid-input", "rate", rate)
        if art == 0 or rate == 0:
            raise AuctionError(
                "Dog/not-unsafe", f"the vault has no debt (art {show_units(art, 18)}, rate "
                f"{_ray(rate)})"
            )
        if spot is not None:
            check_uint("Dog/invalid-input", "spot", spot)
            if not (spot > 0 and ink * spot < art * rate):
                raise AuctionError(
                    "Dog/not-unsafe",
                    f"collateral value {dai(ink * spot)} (ink x spot) is not below the debt "
                    f"{dai(art * rate)} (art x rate)",
                )
        p = self.params
        if not (p.Hole > self.Dirt and p.hole > self.dirt):
            raise AuctionError(
                "Dog/liquidation-limit-hit",
                f"{dai(self.Dirt)} already in auctions against a global limit of "
                f"{dai(p.Hole)} (Hole), {dai(self.dirt)} against {dai(p.hole)} for this "
                "collateral (hole)",
            )
        room = min(p.Hole - self.Dirt, p.hole - self.dirt)
        dart = min(art, room * WAD // rate // p.chop)
        if art > dart:
            if (art - dart) * rate < p.dust:
                # A dusty remainder: liquidate the whole vault (bounded overshoot of limits).
                dart = art
            elif dart * rate < p.dust:
                raise AuctionError(
                    "Dog/dusty-auction-from-partial-liquidation",
                    f"the room left under the limits ({dai(room)}) allows only "
                    f"{dai(dart * rate)} of debt, below the dust of {dai(p.dust)}",
                )
        dink = ink * dart // art
        if dink == 0:
            raise AuctionError(
                "Dog/null-auction",
                f"liquidating {show_units(dart, 18)} of {show_units(art, 18)} debt takes no "
                "collateral "
                f"(ink {show_gem(ink)})",
            )
        tab = dart * rate * p.chop // WAD
        self.Dirt += tab
        self.dirt += tab
        return dart, dink, tab

    def digs(self, rad: int) -> None:
        """Release ``rad`` of DAI target from the limits, when auctions settle (``dog.digs``).

        Call it with :attr:`TakeResult.digs` after each take, and with the tab of a yanked
        auction.
        """
        check_uint("Dog/invalid-input", "rad", rad)
        if rad > self.Dirt or rad > self.dirt:
            raise AuctionError(
                "Dog/digs-exceeds-dirt",
                f"cannot release {dai(rad)}: only {dai(min(self.Dirt, self.dirt))} is in "
                "auctions",
            )
        self.Dirt -= rad
        self.dirt -= rad


# --- Clipper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipperParams:
    """The auction's parameters (``clip.sol``).

    Attributes
    ----------
    buf
        Starting price over the feed price, ray (``1.30e27``: start 30% above the oracle).
    tail
        Seconds after which an auction must be reset.
    cusp
        Fraction of ``top`` below which an auction must be reset, ray (``0.40e27``).
    chip
        Keeper reward as a fraction of the tab, wad (``0.001e18`` is 0.1%).
    tip
        Flat keeper reward, rad.
    calc
        The price curve.
    """

    buf: int
    tail: int
    cusp: int
    chip: int
    tip: int
    calc: Abacus

    def __post_init__(self) -> None:
        for name in ("buf", "tail", "cusp", "chip", "tip"):
            check_uint("Clipper/invalid-param", name, getattr(self, name))
        if self.buf == 0:
            raise AuctionError("Clipper/invalid-param", "buf must be positive (every kick "
                               "would start at a zero price)")
        if self.chip >= _CHIP_LIMIT:
            raise AuctionError("Clipper/invalid-param", "chip does not fit Maker's uint64")
        if self.tip >= _TIP_LIMIT:
            raise AuctionError("Clipper/invalid-param", "tip does not fit Maker's uint192")
        if not isinstance(self.calc, Abacus):
            raise AuctionError("Clipper/invalid-param", "calc must have price(top, dur)")


@dataclass
class Sale:
    """One running auction (``Clipper.sales``).

    Attributes
    ----------
    id
        The auction id (1, 2, ...).
    pos
        Index of the id in :meth:`Clipper.ids` (Maker's ``active`` array).
    tab
        DAI still to raise, rad.
    lot
        Collateral still for sale, wad.
    usr
        The liquidated vault: receives the collateral left when the tab is covered.
    tic
        Start (or last reset) time, seconds.
    top
        Starting price, ray.
    """

    id: int
    pos: int
    tab: int
    lot: int
    usr: str
    tic: int
    top: int


@dataclass(frozen=True)
class KickResult:
    """An auction started (``kick``) or reset (``redo``).

    Attributes
    ----------
    id, tab, lot, top
        The auction, its DAI target (rad), collateral (wad) and starting price (ray).
    coin
        Keeper incentive to pay ``kpr`` out of the system surplus, rad:
        ``tip + tab * chip`` (zero on a reset of a small auction).
    usr, kpr
        The liquidated vault and the keeper.
    """

    id: int
    tab: int
    lot: int
    top: int
    coin: int
    usr: str
    kpr: str


@dataclass(frozen=True)
class TakeResult:
    """One purchase (``take``).

    Attributes
    ----------
    id
        The auction.
    slice
        Collateral the buyer receives, wad.
    owe
        DAI the buyer pays, rad.
    price
        The price paid, ray.
    done
        Whether the auction is over and removed.
    leftover_lot
        Collateral returned to ``usr`` because the tab is covered, wad.
    tab_left
        DAI target left after the purchase, rad. When ``done`` with ``lot_left == 0`` and
        ``tab_left > 0`` the collateral ran out first: that DAI is never raised.
    lot_left
        Collateral left after the purchase, wad (the leftover, when the tab is covered).
    digs
        DAI target (rad) to release from the Dog's limits: ``owe``, or ``owe + tab_left``
        when the collateral ran out (``Dog.digs(result.digs)``).
    usr, who
        The liquidated vault and the buyer.
    """

    id: int
    slice: int
    owe: int
    price: int
    done: bool
    leftover_lot: int
    tab_left: int
    lot_left: int
    digs: int
    usr: str
    who: str


class Clipper:
    """Dutch auctions of one collateral type (``clip.sol``).

    Parameters
    ----------
    params
        The auction parameters.
    dust
        The collateral type's dust, rad.
    chop
        The liquidation penalty, wad. With ``dust`` it sets ``chost = dust * chop`` (rad),
        the smallest tab a partial purchase may leave; the default ``WAD`` gives
        ``chost = dust``. Prefer :meth:`from_dog`, which reads both from the Dog.

    Attributes
    ----------
    active
        Running auctions by id.
    kicks
        Auctions started so far (the last id).
    chost
        Cached ``dust * chop`` (rad), refreshed by :meth:`upchost` as in Maker.
    stopped
        Circuit breaker: 0 none, 1 no ``kick``, 2 no ``kick``/``redo``, 3 no ``take`` either.
    """

    def __init__(self, params: ClipperParams, dust: int, *, chop: int = WAD) -> None:
        self.params = params
        self.active: dict[int, Sale] = {}
        self.kicks = 0
        self.stopped = 0
        self.chost = 0
        self._ids: list[int] = []
        self.upchost(dust, chop)

    @classmethod
    def from_dog(cls, params: ClipperParams, dog: Dog) -> Clipper:
        """A Clipper whose ``chost`` is the Dog's ``dust * chop``."""
        return cls(params, dog.params.dust, chop=dog.params.chop)

    def upchost(self, dust: int, chop: int) -> None:
        """Refresh the cached ``chost = wmul(dust, chop)`` (``Clipper.upchost``)."""
        check_uint("Clipper/invalid-input", "dust", dust)
        check_uint("Clipper/invalid-input", "chop", chop)
        self.chost = chost_of(dust, chop)

    def copy(self) -> Clipper:
        """An independent copy in O(running auctions): the dictionaries are copied, their
        entries (sales) shared until replaced (see ``AuctionHouse.own``)."""
        twin = copy.copy(self)
        twin.active = dict(self.active)
        twin._ids = list(self._ids)
        return twin

    def ids(self) -> list[int]:
        """Running auction ids in Maker's ``active`` order (swap-and-pop on removal)."""
        return list(self._ids)

    def count(self) -> int:
        """Number of running auctions."""
        return len(self._ids)

    # --- Auction ---

    def kick(
        self, tab: int, lot: int, usr: str, kpr: str, price: int, now: int
    ) -> KickResult:
        """Start an auction of ``lot`` for ``tab`` at ``top = rmul(price, buf)``.

        Parameters
        ----------
        tab
            DAI to raise, rad (the Dog's ``tab``).
        lot
            Collateral to sell, wad.
        usr
            The liquidated vault; receives collateral left once the tab is raised.
        kpr
            The keeper; receives ``coin = tip + wmul(tab, chip)`` when either is set.
        price
            The feed price, ray (:func:`feed_price` of the OSM value).
        now
            Current time, seconds.
        """
        self._check_stopped(1, "kick")
        check_uint("Clipper/invalid-input", "tab", tab)
        check_uint("Clipper/invalid-input", "lot", lot)
        check_uint("Clipper/invalid-input", "price", price)
        check_uint("Clipper/invalid-input", "now", now)
        if tab == 0:
            raise AuctionError("Clipper/zero-tab", "an auction needs a positive tab")
        if lot == 0:
            raise AuctionError("Clipper/zero-lot", "an auction needs a positive lot")
        if not usr:
            raise AuctionError("Clipper/zero-usr", "an auction needs the vault (usr)")
        top = _rmul(price, self.params.buf)
        if top == 0:
            raise AuctionError(
                "Clipper/zero-top-price",
                f"feed price {_ray(price)} x buf {_ray(self.params.buf)} rounds to zero",
            )
        coin = self._incentive(tab)
        self.kicks += 1
        sale = Sale(id=self.kicks, pos=len(self._ids), tab=tab, lot=lot, usr=usr, tic=now,
                    top=top)
        self._ids.append(sale.id)
        self.active[sale.id] = sale
        return KickResult(id=sale.id, tab=tab, lot=lot, top=top, coin=coin, usr=usr, kpr=kpr)

    def status(self, id: int, now: int) -> tuple[bool, int, int, int]:
        """Return ``(needs_redo, price, lot, tab)`` of a running auction at ``now``.

        ``needs_redo`` when more than ``tail`` seconds passed since ``tic`` or the price fell
        below ``cusp`` of ``top`` (``rdiv(price, top) < cusp``), as ``Clipper.getStatus``.
        """
        sale = self._sale(id)
        done, price = self._status(sale, now)
        return done, price, sale.lot, sale.tab

    def redo(self, id: int, kpr: str, price: int, now: int) -> KickResult:
        """Reset an auction that needs it: ``tic = now``, ``top = rmul(price, buf)``.

        The keeper gets ``tip + wmul(tab, chip)`` only if ``tab >= chost`` and
        ``lot * price >= chost`` (Maker pays nothing for resetting a dusty auction).
        """
        self._check_stopped(2, "redo")
        sale = self._sale(id)
        check_uint("Clipper/invalid-input", "price", price)
        done, current = self._status(sale, now)
        if not done:
            raise AuctionError(
                "Clipper/cannot-reset",
                f"auction {id} is {now - sale.tic}s old (tail {self.params.tail}s) at "
                f"{_ray(current)}, {_ray(_rdiv(current, sale.top))} of top (cusp "
                f"{_ray(self.params.cusp)})",
            )
        top = _rmul(price, self.params.buf)
        if top == 0:
            raise AuctionError(
                "Clipper/zero-top-price",
                f"feed price {_ray(price)} x buf {_ray(self.params.buf)} rounds to zero",
            )
        coin = 0
        if sale.tab >= self.chost and sale.lot * price >= self.chost:
            coin = self._incentive(sale.tab)
        sale.tic = now
        sale.top = top
        return KickResult(id=id, tab=sale.tab, lot=sale.lot, top=top, coin=coin,
                          usr=sale.usr, kpr=kpr)

    def take(self, id: int, amt: int, max_price: int, who: str, now: int) -> TakeResult:
        """Buy up to ``amt`` collateral at the current price, if it is at most ``max_price``.

        The rules of ``Clipper.take``:

        - ``slice = min(lot, amt)``, ``owe = slice * price``;
        - never more than the tab: if ``owe > tab``, ``owe = tab`` and
          ``slice = owe / price`` (floored);
        - the dust rule: a partial purchase (``owe < tab`` and ``slice < lot``) that would
          leave ``tab - owe < chost`` is cut to leave exactly ``chost``
          (``owe = tab - chost``, ``slice = owe / price``), and refused
          (``Clipper/no-partial-purchase``) when ``tab <= chost``: then only the whole lot
          may be bought;
        - when the lot runs out the auction ends (any tab left is never raised); when the
          tab is covered the collateral left goes back to ``usr``.

        Parameters
        ----------
        id
            The auction.
        amt
            Most collateral to buy, wad.
        max_price
            Highest acceptable price, ray.
        who
            The buyer.
        now
            Current time, seconds.
        """
        self._check_stopped(3, "take")
        sale = self._sale(id)
        check_uint("Clipper/invalid-input", "amt", amt)
        check_uint("Clipper/invalid-input", "max_price", max_price)
        done, price = self._status(sale, now)
        if done:
            raise AuctionError(
                "Clipper/needs-reset",
                f"auction {id} must be reset first: {now - sale.tic}s old (tail "
                f"{self.params.tail}s), price {_ray(price)} is {_ray(_rdiv(price, sale.top))}"
                f" of top (cusp {_ray(self.params.cusp)})",
            )
        if max_price < price:
            raise AuctionError(
                "Clipper/too-expensive",
                f"the price {_ray(price)} is above the buyer's maximum {_ray(max_price)}",
            )
        lot, tab = sale.lot, sale.tab
        slice_ = min(lot, amt)
        owe = slice_ * price
        if owe > tab:
            owe = tab
            slice_ = owe // price
        elif owe < tab and slice_ < lot and tab - owe < self.chost:
            if tab <= self.chost:
                raise AuctionError(
                    "Clipper/no-partial-purchase",
                    f"the tab {dai(tab)} is not above chost {dai(self.chost)}: buy the whole "
                    f"lot of {show_gem(lot)} or nothing",
                )
            owe = tab - self.chost
            slice_ = owe // price
        tab -= owe
        lot -= slice_
        digs = tab + owe if lot == 0 else owe
        leftover = 0
        finished = lot == 0 or tab == 0
        if lot != 0 and tab == 0:
            leftover = lot
        if finished:
            self._remove(id)
        else:
            sale.tab = tab
            sale.lot = lot
        return TakeResult(id=id, slice=slice_, owe=owe, price=price, done=finished,
                          leftover_lot=leftover, tab_left=tab, lot_left=lot, digs=digs,
                          usr=sale.usr, who=who)

    def yank(self, id: int) -> Sale:
        """Cancel an auction (shutdown or governance); return it.

        The caller releases ``sale.tab`` from the Dog (``digs``) and takes ``sale.lot``.
        """
        sale = self._sale(id)
        self._remove(id)
        return sale

    # --- Internals ---

    def _incentive(self, tab: int) -> int:
        if self.params.tip > 0 or self.params.chip > 0:
            return self.params.tip + _wmul(tab, self.params.chip)
        return 0

    def _check_stopped(self, level: int, action: str) -> None:
        if self.stopped >= level:
            raise AuctionError(
                "Clipper/stopped-incorrect",
                f"{action} is halted by the circuit breaker (stopped = {self.stopped})",
            )

    def _sale(self, id: int) -> Sale:
        sale = self.active.get(id)
        if sale is None:
            raise AuctionError(
                "Clipper/not-running-auction", f"no running auction with id {id!r}"
            )
        return sale

    def _status(self, sale: Sale, now: int) -> tuple[bool, int]:
        check_uint("Clipper/invalid-input", "now", now)
        if now < sale.tic:
            raise AuctionError(
                "Clipper/time-before-kick",
                f"now ({now}) is before auction {sale.id} started ({sale.tic})",
            )
        dur = now - sale.tic
        price = self.params.calc.price(sale.top, dur)
        done = dur > self.params.tail or _rdiv(price, sale.top) < self.params.cusp
        return done, price

    def _remove(self, id: int) -> None:
        sale = self.active[id]
        last = self._ids[-1]
        if id != last:
            self._ids[sale.pos] = last
            self.active[last].pos = sale.pos
        self._ids.pop()
        del self.active[id]
