"""English collateral auctions: MakerDAO's Flipper (``flip.sol``, Liquidations 1.0 to 1.2).

A pure state machine with exact integer arithmetic, as Maker computes it. An auction of a
fixed ``lot`` of collateral for a DAI target ``tab`` runs in two phases:

- **tend**: bidders raise the DAI ``bid`` for the whole lot, each bid at least ``beg``
  times the last (or exactly ``tab``), never above ``tab``;
- **dent**: once a bid equals ``tab``, bidders keep paying ``tab`` but accept less
  collateral, each ``lot`` at most the last divided by ``beg``; the collateral given up
  goes back to the vault owner (``usr``).

Each bid expires ``ttl`` seconds after it is placed (``tic``) and the auction ends ``tau``
seconds after the kick (``end``); after either, with a bid, anyone may ``deal`` it. An
auction that ended with no bid is restarted with ``tick``.

Nothing stops the first bid from being tiny: ``tend`` only needs ``bid > 0`` when the
standing bid is zero. On 12 March 2020 ("Black Thursday"), with gas prices spiking and
``ttl`` at 10 minutes, lone keepers won whole lots for bids of zero or near-zero DAI; see
``docs/auctions.md``.

Units: ``bid`` and ``tab`` in rad, ``lot`` in wad, ``beg`` in wad, times in seconds. The
Flipper moves no money; after each call the caller moves it (see each method). Refused
calls raise :class:`~marginengine.liquidation.dutch_auction.AuctionError` and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from marginengine.fixedpoint import WAD
from marginengine.liquidation.dutch_auction import (
    AuctionError,
    check_uint,
    dai,
    show_gem,
    show_units,
)

#: Maker's ``ONE`` in ``flip.sol``: the beg rule compares ``bid * ONE`` with ``beg * bid``.
ONE = WAD


@dataclass(frozen=True)
class FlipperParams:
    """The Flipper's parameters.

    Attributes
    ----------
    beg
        Minimum bid increase (tend) or lot decrease (dent), wad (``1.03e18`` is 3%).
    ttl
        Seconds a bid lives: the auction can be dealt ``ttl`` after the last bid.
    tau
        Seconds from kick (or tick) to the auction's end.
    """

    beg: int
    ttl: int
    tau: int

    def __post_init__(self) -> None:
        for name in ("beg", "ttl", "tau"):
            check_uint("Flipper/invalid-param", name, getattr(self, name))


#: ``flip.sol``'s constructor defaults: 5% beg, 3-hour bids, 2-day auctions.
FLIP_CONTRACT_DEFAULTS = FlipperParams(beg=105 * WAD // 100, ttl=3 * 3600, tau=2 * 86400)

#: The ETH-A Flipper on 12 March 2020 (Black Thursday): 3% beg, 10-minute bids, 6-hour
#: auctions. Sources in ``docs/auctions.md``.
BLACK_THURSDAY_ETH_A = FlipperParams(beg=103 * WAD // 100, ttl=600, tau=6 * 3600)


@dataclass
class Bid:
    """One auction (``Flipper.bids``).

    Attributes
    ----------
    id
        The auction id (1, 2, ...).
    bid
        Highest bid, rad of DAI.
    lot
        Collateral for sale, wad.
    guy
        Highest bidder (the kicker until a first bid).
    tic
        When the highest bid expires, seconds; ``0`` while there is no bid.
    end
        When the auction ends, seconds.
    usr
        The liquidated vault: receives collateral given up in the dent phase.
    gal
        Receives the DAI raised (the system's debt engine, Maker's ``vow``).
    tab
        DAI target, rad.
    """

    id: int
    bid: int
    lot: int
    guy: str
    tic: int
    end: int
    usr: str
    gal: str
    tab: int


class Flipper:
    """English auctions of one collateral type (``flip.sol``).

    Parameters
    ----------
    params
        ``beg``, ``ttl`` and ``tau``.

    Attributes
    ----------
    bids
        Running auctions by id.
    kicks
        Auctions started so far (the last id).
    """

    def __init__(self, params: FlipperParams) -> None:
        self.params = params
        self.bids: dict[int, Bid] = {}
        self.kicks = 0

    def copy(self) -> Flipper:
        """An independent copy in O(running auctions): the bids dictionary is copied, its
        entries shared until replaced (see ``AuctionHouse.own``)."""
        twin = Flipper(self.params)
        twin.bids = dict(self.bids)
        twin.kicks = self.kicks
        return twin

    def kick(
        self, usr: str, gal: str, tab: int, lot: int, bid: int, now: int, *, guy: str = "cat"
    ) -> int:
        """Start an auction of ``lot`` for ``tab``; it ends at ``now + tau``.

        Parameters
        ----------
        usr
            The liquidated vault.
        gal
            Receives the DAI raised.
        tab
            DAI target, rad.
        lot
            Collateral, wad (the caller moves it into the auction).
        bid
            Opening bid, rad; Maker's Cat kicks with ``0``.
        now
            Current time, seconds.
        guy
            The kicker, standing as the highest bidder until the first bid (Maker's
            ``msg.sender``, the Cat).

        Returns
        -------
        int
            The auction id.
        """
        for name, value in (("tab", tab), ("lot", lot), ("bid", bid), ("now", now)):
            check_uint("Flipper/invalid-input", name, value)
        if not guy:
            raise AuctionError("Flipper/invalid-input", "the kicker (guy) must be named")
        self.kicks += 1
        self.bids[self.kicks] = Bid(id=self.kicks, bid=bid, lot=lot, guy=guy, tic=0,
                                    end=now + self.params.tau, usr=usr, gal=gal, tab=tab)
        return self.kicks

    def tick(self, id: int, now: int) -> None:
        """Restart an auction that ended with no bid: ``end = now + tau``."""
        auction = self._bid(id, "Flipper/not-finished")
        check_uint("Flipper/invalid-input", "now", now)
        if not auction.end < now:
            raise AuctionError(
                "Flipper/not-finished",
                f"auction {id} ends at {auction.end}; it cannot be restarted at {now}",
            )
        if auction.tic != 0:
            raise AuctionError(
                "Flipper/bid-already-placed",
                f"auction {id} has a bid of {dai(auction.bid)} by {auction.guy}: deal it",
            )
        auction.end = now + self.params.tau

    def tend(self, id: int, lot: int, bid: int, guy: str, now: int) -> None:
        """Raise the DAI bid for the whole lot (phase 1).

        Rules of ``Flipper.tend``: the auction is live (its bid has not expired,
        ``tic > now`` or no bid yet, and ``end > now``); ``lot`` is the auction's lot;
        ``bid <= tab``; ``bid > `` the standing bid; and ``bid * ONE >= beg * old bid`` unless
        ``bid == tab``. The bid then expires at ``now + ttl``.

        The caller moves the money: the previous bidder gets the old bid back (when ``guy``
        is someone else) and ``gal`` gets ``bid - old bid``; read ``bids[id]`` before calling.
        """
        auction = self._live(id, now)
        check_uint("Flipper/invalid-input", "lot", lot)
        check_uint("Flipper/invalid-input", "bid", bid)
        if lot != auction.lot:
            raise AuctionError(
                "Flipper/lot-not-matching",
                f"a tend bids for the whole lot of {show_gem(auction.lot)}, not {show_gem(lot)}",
            )
        if bid > auction.tab:
            raise AuctionError(
                "Flipper/higher-than-tab",
                f"the bid {dai(bid)} is above the tab {dai(auction.tab)}",
            )
        if not bid > auction.bid:
            phase = " (the tab is reached: bid in the dent phase)" if (
                auction.bid == auction.tab) else ""
            raise AuctionError(
                "Flipper/bid-not-higher",
                f"the bid {dai(bid)} is not above the standing bid {dai(auction.bid)}{phase}",
            )
        if not (bid * ONE >= self.params.beg * auction.bid or bid == auction.tab):
            raise AuctionError(
                "Flipper/insufficient-increase",
                f"the bid {dai(bid)} is less than beg ({show_units(self.params.beg, 18)}) times "
                f"the standing bid {dai(auction.bid)}, and not the full tab",
            )
        auction.guy = guy
        auction.bid = bid
        auction.tic = now + self.params.ttl

    def dent(self, id: int, lot: int, bid: int, guy: str, now: int) -> None:
        """Accept less collateral for the full tab (phase 2).

        Rules of ``Flipper.dent``: the auction is live; ``bid`` is the standing bid and
        equals ``tab``; ``lot`` is below the standing lot and ``beg * lot <= old lot * ONE``.
        The bid then expires at ``now + ttl``.

        The caller moves the money: the previous bidder gets ``bid`` back (when ``guy`` is
        someone else) and ``usr`` gets ``old lot - lot`` of collateral.
        """
        auction = self._live(id, now)
        check_uint("Flipper/invalid-input", "lot", lot)
        check_uint("Flipper/invalid-input", "bid", bid)
        if bid != auction.bid:
            raise AuctionError(
                "Flipper/not-matching-bid",
                f"a dent bids the standing {dai(auction.bid)}, not {dai(bid)}",
            )
        if bid != auction.tab:
            raise AuctionError(
                "Flipper/tend-not-finished",
                f"the standing bid {dai(auction.bid)} has not reached the tab "
                f"{dai(auction.tab)}: raise the bid with tend",
            )
        if not lot < auction.lot:
            raise AuctionError(
                "Flipper/lot-not-lower",
                f"the lot {show_gem(lot)} is not below the standing lot {show_gem(auction.lot)}",
            )
        if not self.params.beg * lot <= auction.lot * ONE:
            raise AuctionError(
                "Flipper/insufficient-decrease",
                f"the lot {show_gem(lot)} times beg ({show_units(self.params.beg, 18)}) is above "
                "the "
                f"standing lot {show_gem(auction.lot)}",
            )
        auction.guy = guy
        auction.lot = lot
        auction.tic = now + self.params.ttl

    def deal(self, id: int, now: int) -> Bid:
        """Settle an auction with a bid once the bid expired or the auction ended.

        Requires ``tic != 0`` and (``tic < now`` or ``end < now``). Returns the final bid
        and removes it: ``guy`` gets ``lot``; ``gal`` already received the DAI; the
        tab not raised (``tab - bid``) stays system debt. The caller releases ``tab`` from
        its liquidation limit (Maker's ``cat.claw``).
        """
        auction = self._bid(id, "Flipper/not-finished")
        check_uint("Flipper/invalid-input", "now", now)
        if not (auction.tic != 0 and (auction.tic < now or auction.end < now)):
            when = "has no bid" if auction.tic == 0 else (
                f"has a bid expiring at {auction.tic} and ends at {auction.end}")
            raise AuctionError("Flipper/not-finished",
                               f"auction {id} {when}; it cannot be dealt at {now}")
        del self.bids[id]
        return replace(auction)

    def yank(self, id: int) -> Bid:
        """Cancel an auction still in the tend phase (shutdown); return it.

        The caller returns ``bid`` to ``guy``, takes ``lot`` and releases ``tab``.
        """
        auction = self._bid(id, "Flipper/guy-not-set")
        if not auction.bid < auction.tab:
            raise AuctionError(
                "Flipper/already-dent-phase",
                f"auction {id} reached its tab of {dai(auction.tab)}: it cannot be yanked",
            )
        del self.bids[id]
        return replace(auction)

    def phase(self, id: int) -> Literal["tend", "dent"]:
        """``"tend"`` while the bid is below the tab, then ``"dent"``."""
        auction = self._bid(id, "Flipper/guy-not-set")
        return "dent" if auction.bid >= auction.tab else "tend"

    # --- Internals ---

    def _bid(self, id: int, code: str) -> Bid:
        auction = self.bids.get(id)
        if auction is None:
            raise AuctionError(code, f"no running auction with id {id!r}")
        return auction

    def _live(self, id: int, now: int) -> Bid:
        auction = self._bid(id, "Flipper/guy-not-set")
        check_uint("Flipper/invalid-input", "now", now)
        if not (auction.tic > now or auction.tic == 0):
            raise AuctionError(
                "Flipper/already-finished-tic",
                f"the standing bid of auction {id} expired at {auction.tic} (now {now}): "
                "deal it",
            )
        if not auction.end > now:
            raise AuctionError(
                "Flipper/already-finished-end",
                f"auction {id} ended at {auction.end} (now {now})",
            )
        return auction
