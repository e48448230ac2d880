"""Protocol families with rules of their own: Morpho Blue, Liquity v1, Euler v2.

A family preset is resolved here, once, into a :class:`FamilyRules` value (which family,
which variant of its rules); nothing else compares a preset name. The rules themselves
are pure functions in ``margin/`` and ``liquidation/`` (``margin/morpho.py``,
``liquidation/liquity.py``, ...), chosen by :attr:`FamilyRules.family`.

Presets:

``morpho-blue``
    Morpho Blue markets (morpho-org/morpho-blue ``src/Morpho.sol``).
``liquity-v1``
    Liquity v1 with the stability pool as deployed (``StabilityPoolRule.LEGACY``).
``liquity-v1-2025``
    Liquity v1 with liquity/dev's 2025 pool that always keeps 1 LUSD (commit 800e820f).
``euler-v2``
    Euler Vault Kit vaults (euler-xyz/euler-vault-kit ``src/EVault``).
``mango-v4``
    Mango v4 account health (blockworks-foundation/mango-v4 ``src/health``).
``drift-v2``
    Drift v2 cross-margin accounts (drift-labs/protocol-v2 ``math/margin.rs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from marginengine.errors import ConfigError


class ProtocolFamily(Enum):
    """A family of rules with its own state (markets, troves, vaults)."""

    MORPHO_BLUE = "morpho-blue"
    LIQUITY_V1 = "liquity-v1"
    EULER_V2 = "euler-v2"
    MANGO_V4 = "mango-v4"
    DRIFT_V2 = "drift-v2"


class StabilityPoolVariant(Enum):
    """Which Liquity stability-pool rule (``liquidation.liquity.StabilityPoolRule``)."""

    LEGACY = "legacy"
    KEEP_ONE_LUSD = "keep_one_lusd"


@dataclass(frozen=True)
class FamilyRules:
    """A family preset resolved: the family and the variant of its rules.

    Attributes
    ----------
    preset
        The preset's name (display only).
    family
        Which rules apply.
    stability_pool
        Liquity only: the stability-pool rule.
    source
        The code the rules follow (repository and commit), for reports.
    """

    preset: str
    family: ProtocolFamily
    stability_pool: StabilityPoolVariant | None = None
    source: str = ""


FAMILY_PRESETS: dict[str, FamilyRules] = {
    "morpho-blue": FamilyRules(
        "morpho-blue", ProtocolFamily.MORPHO_BLUE,
        source="morpho-org/morpho-blue@3085651a79553bbabbfd8be309c262dab45b686e"),
    "liquity-v1": FamilyRules(
        "liquity-v1", ProtocolFamily.LIQUITY_V1, StabilityPoolVariant.LEGACY,
        source="liquity/dev@15853ad8999760a7b4fc03e8d7d9967e36fe3fe5 (stability pool), "
               "@39f1f7f881de23200c296a892b891a6e2fc6e98f (troves)"),
    "liquity-v1-2025": FamilyRules(
        "liquity-v1-2025", ProtocolFamily.LIQUITY_V1, StabilityPoolVariant.KEEP_ONE_LUSD,
        source="liquity/dev@39f1f7f881de23200c296a892b891a6e2fc6e98f "
               "(800e820f: the pool keeps 1 LUSD)"),
    "euler-v2": FamilyRules(
        "euler-v2", ProtocolFamily.EULER_V2,
        source="euler-xyz/euler-vault-kit@5b98b42048ba11ae82fb62dfec06d1010c8e41e6"),
    "mango-v4": FamilyRules(
        "mango-v4", ProtocolFamily.MANGO_V4,
        source="blockworks-foundation/mango-v4@1303a4a16228eb1e8e8d4f0eef724eaf63310c86"),
    "drift-v2": FamilyRules(
        "drift-v2", ProtocolFamily.DRIFT_V2,
        source="drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62"),
}


def resolve_family_preset(name: object, field: str = "family") -> FamilyRules:
    """The :class:`FamilyRules` of preset ``name``, or a :class:`ConfigError` naming ``field``."""
    if not isinstance(name, str) or name not in FAMILY_PRESETS:
        known = ", ".join(sorted(FAMILY_PRESETS))
        raise ConfigError([f"{field}: unknown family preset {name!r} (known: {known})"])
    return FAMILY_PRESETS[name]


__all__ = [
    "FAMILY_PRESETS",
    "FamilyRules",
    "ProtocolFamily",
    "StabilityPoolVariant",
    "resolve_family_preset",
]
