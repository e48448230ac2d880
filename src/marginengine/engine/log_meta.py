"""What an event log's meta says of its protocol, written and read in one place.

A log carries its protocol configuration (``meta.protocol``, the config as JSON) so that it
replays on its own. Where the meaning of a stored field changed, a meta key says which
meaning the log was written under, and :func:`logged_protocol` reads an older log's field
under the meaning it had when written:

- ``comet_supply_caps = "comet"``: a ``compound-v3`` market's ``supply_cap`` of 0 refuses
  every supply, as Comet's ``supplyCollateral`` does (``SupplyCapExceeded``), and a cap
  left out is ``null`` (no cap). A log without the key was written when 0 meant no cap on
  every preset, so its Comet caps of 0 are read as no cap: it replays, and resumes, as
  it was written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from marginengine.config import ProtocolConfig

#: The meta key marking a log written under Comet's own supply-cap meaning.
COMET_SUPPLY_CAPS = "comet_supply_caps"


def log_meta(config: ProtocolConfig) -> dict[str, str]:
    """The meta a new log of ``config`` starts with: the protocol (sorted JSON) and the
    meanings it was written under."""
    return {"protocol": json.dumps(config.model_dump(mode="json"), sort_keys=True),
            COMET_SUPPLY_CAPS: "comet"}


def _is_zero(value: Any) -> bool:
    try:
        return Decimal(str(value)) == 0
    except InvalidOperation:
        return False


def logged_protocol(meta: Mapping[str, str]) -> dict[str, Any]:
    """The protocol of a log's meta as data, each field under the meaning it was written
    with (see the module's notes).

    Raises
    ------
    KeyError
        If the meta has no ``protocol``.
    ValueError
        If it is not JSON.
    """
    raw: dict[str, Any] = json.loads(meta["protocol"])
    if COMET_SUPPLY_CAPS not in meta and raw.get("preset") == "compound-v3":
        for market in (raw.get("markets") or {}).values():
            if isinstance(market, dict) and _is_zero(market.get("supply_cap", 0)):
                market["supply_cap"] = None
    return raw


__all__ = ["COMET_SUPPLY_CAPS", "log_meta", "logged_protocol"]
