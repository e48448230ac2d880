"""Option pricing: Black-76 on forwards, implied volatility, volatility surfaces, Greeks.

Layer 3 of the design (pure math, importing only ``fixedpoint``): every kernel takes and
returns NumPy arrays and has a plain-``math`` scalar twin used as its test oracle. Prices
are floats; they become money only through :mod:`marginengine.pricing.fixing`, which
turns a float into an exact integer amount with a named rounding. See ``docs/pricing.md``.
"""

from marginengine.pricing.black76 import (
    MIN_STDDEV,
    Greeks,
    discount_factor,
    price,
    price_and_greeks,
)
from marginengine.pricing.fixing import premium_for_size, premium_to_units, premiums_to_units
from marginengine.pricing.grid import GridSurface
from marginengine.pricing.implied_vol import implied_vol
from marginengine.pricing.scalar import (
    implied_vol_scalar,
    price_and_greeks_scalar,
    price_scalar,
)
from marginengine.pricing.scenarios import (
    BasisContingencyParams,
    Scenarios,
    StaticDiscountParams,
    VolShockParams,
    scenario_values,
)
from marginengine.pricing.surface import VolSurface
from marginengine.pricing.svi import SVIParams, SVISurface

__all__ = [
    "MIN_STDDEV",
    "BasisContingencyParams",
    "Greeks",
    "GridSurface",
    "SVIParams",
    "SVISurface",
    "Scenarios",
    "StaticDiscountParams",
    "VolShockParams",
    "VolSurface",
    "discount_factor",
    "implied_vol",
    "implied_vol_scalar",
    "premium_for_size",
    "premium_to_units",
    "premiums_to_units",
    "price",
    "price_and_greeks",
    "price_and_greeks_scalar",
    "price_scalar",
    "scenario_values",
]
