"""Maker's Vat ``frob`` checks as pure rules (makerdao/dss@fa4f6630 ``src/vat.sol``).

A Maker vault (an urn of one collateral type, an ilk) changes by ``frob(i, u, v, w, dink,
dart)``: ``dink`` collateral (wad) locked (> 0) or freed (< 0), ``dart`` normalised debt
(wad) drawn (> 0) or wiped (< 0). The Vat refuses the change, in this order:

1. ``Vat/not-live``: the system is caged;
2. ``Vat/ilk-not-init``: the ilk's ``rate`` is 0;
3. ``Vat/ceiling-exceeded``: unless ``dart <= 0``, both the ilk's debt ``Art x rate <=
   line`` and the Vat's total ``debt <= Line`` after the change;
4. ``Vat/not-safe``: unless ``dart <= 0 and dink >= 0`` (the urn is no riskier),
   ``tab = art x rate <= ink x spot`` after the change;
5. ``Vat/not-allowed-u``, ``-v``, ``-w``: the urn's owner, the collateral's source and
   the debt's destination consent (only where the change needs them);
6. ``Vat/dust``: ``art == 0 or tab >= dust`` after the change (every frob, even one that
   only locks collateral, leaves an urn without debt or with at least ``dust``).

Units as dss stores them: ``ink``, ``art``, ``Art``, ``dink``, ``dart`` wad; ``rate``,
``spot`` ray; ``line``, ``Line``, ``dust``, ``debt``, ``tab`` rad (a wad times a ray, so no
comparison divides). ``line``/``Line`` ``None``: no ceiling (this engine's default; dss
always has one, a ``uint256``).
"""

from __future__ import annotations

from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import RAY

#: Basis points in one (the unit of a market's ``liquidation_threshold_bps``).
_BPS = 10_000


def vat_spot(feed_price_ray: int, liquidation_threshold_bps: int) -> int:
    """The ilk's ``spot`` (ray): the feed price over the liquidation ratio ``mat``.

    Maker's Spotter ``poke`` sets ``spot = rdiv(rdiv(val * 1e9, par), mat)``; the first
    ``rdiv`` is the feed price (``feed_price_ray``: DAI per collateral, ray, as the
    Clipper reads it) and ``mat`` is here ``1 / liquidation_threshold``, so ``spot =
    feed x liquidation_threshold_bps / 10,000``, floored (as ``rdiv``).
    """
    return feed_price_ray * liquidation_threshold_bps // _BPS


def vat_frob_problem(*, ink: int, art: int, dink: int, dart: int, Art: int, rate: int,
                     spot: int, dust: int, debt: int, line: int | None = None,
                     Line: int | None = None, live: bool = True, wish_u: bool = True,
                     wish_v: bool = True, wish_w: bool = True) -> str | None:
    """The revert string of dss ``Vat.frob`` for this change, or ``None`` if it passes.

    Parameters
    ----------
    ink, art
        The urn before the change: collateral locked and normalised debt (wad).
    dink, dart
        The change (wad, signed).
    Art, rate, spot, dust
        The ilk before the change: its total normalised debt (wad), accumulated rate
        (ray), price with safety margin (ray) and debt floor (rad).
    debt
        The Vat's total debt before the change (rad).
    line, Line
        The ilk's and the Vat's debt ceilings (rad); ``None``: no ceiling.
    live
        The Vat is not caged.
    wish_u, wish_v, wish_w
        The caller may act for the urn, the collateral's source, the debt's destination.

    Returns
    -------
    str or None
        dss's reason, e.g. ``"Vat/dust"``.
    """
    if not live:
        return Code.VAT_NOT_LIVE.value
    if rate == 0:
        return Code.VAT_ILK_NOT_INIT.value
    ink_after, art_after, Art_after = ink + dink, art + dart, Art + dart
    if min(ink_after, art_after, Art_after) < 0:
        # dss's checked _add reverts (no reason string); the engine never asks this.
        raise ValueError("frob would leave a negative ink, art or Art")
    tab = rate * art_after
    debt_after = debt + rate * dart
    if dart > 0 and ((line is not None and Art_after * rate > line)
                     or (Line is not None and debt_after > Line)):
        return Code.VAT_CEILING_EXCEEDED.value
    less_risky = dart <= 0 and dink >= 0
    if not less_risky and tab > ink_after * spot:
        return Code.VAT_NOT_SAFE.value
    if not (less_risky or wish_u):
        return Code.VAT_NOT_ALLOWED_U.value
    if not (dink <= 0 or wish_v):
        return Code.VAT_NOT_ALLOWED_V.value
    if not (dart >= 0 or wish_w):
        return Code.VAT_NOT_ALLOWED_W.value
    if art_after != 0 and tab < dust:
        return Code.VAT_DUST.value
    return None


def _dai(rad: int) -> str:
    """A rad as DAI for a message (exact to the wei, trailing zeros dropped)."""
    whole, frac = divmod(rad // RAY, 10**18)
    return f"{whole:,}" + (f".{frac:018d}".rstrip("0") if frac else "")


def validate_frob(*, ink: int, art: int, dink: int, dart: int, Art: int, rate: int,
                  spot: int, dust: int, debt: int, line: int | None = None,
                  Line: int | None = None) -> Refusal | None:
    """:func:`vat_frob_problem` as a typed refusal (code: dss's reason) with its figures,
    for a vault whose owner acts on it (every consent given, the Vat live).

    ``data``: ``ink``, ``art``, ``dink``, ``dart`` (wad), ``tab`` (rad, after), and per
    reason ``line``/``Line``/``ilk_debt``/``debt`` (ceiling), ``max_tab`` (``ink x spot``,
    not-safe) or ``dust``.
    """
    reason = vat_frob_problem(ink=ink, art=art, dink=dink, dart=dart, Art=Art, rate=rate,
                              spot=spot, dust=dust, debt=debt, line=line, Line=Line)
    if reason is None:
        return None
    tab = (art + dart) * rate
    data: dict[str, object] = {"ink": ink, "art": art, "dink": dink, "dart": dart,
                               "tab": tab}
    code = Code(reason)
    if code is Code.VAT_CEILING_EXCEEDED:
        ilk_debt, total = (Art + dart) * rate, debt + dart * rate
        data.update(line=line, Line=Line, ilk_debt=ilk_debt, debt=total)
        if line is not None and ilk_debt > line:
            why = f"the ilk's debt would be {_dai(ilk_debt)} DAI, above line {_dai(line)}"
        else:
            assert Line is not None
            why = f"the total debt would be {_dai(total)} DAI, above Line {_dai(Line)}"
    elif code is Code.VAT_NOT_SAFE:
        max_tab = (ink + dink) * spot
        data["max_tab"] = max_tab
        why = (f"the vault's debt {_dai(tab)} DAI would exceed ink x spot "
               f"{_dai(max_tab)} DAI")
    else:
        data["dust"] = dust
        why = (f"the vault's debt {_dai(tab)} DAI would be above 0 and below dust "
               f"{_dai(dust)} DAI")
    return Refusal(code, f"{reason}: {why}", data)


__all__ = ["validate_frob", "vat_frob_problem", "vat_spot"]
