"""Typed, validated protocol parameters, presets and TOML loading."""

from marginengine.config.loading import (
    format_validation_error,
    load_protocol,
    protocol_from_dict,
    read_toml,
    validate_model,
)
from marginengine.config.models import (
    PRESET_NAMES,
    AaveRules,
    BreakerConfig,
    CompoundRules,
    InterestRateModel,
    MarketConfig,
    OracleConfig,
    ProtocolConfig,
    StablePriceConfig,
)
from marginengine.config.presets import PRESETS

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "AaveRules",
    "BreakerConfig",
    "CompoundRules",
    "InterestRateModel",
    "MarketConfig",
    "OracleConfig",
    "ProtocolConfig",
    "StablePriceConfig",
    "format_validation_error",
    "load_protocol",
    "protocol_from_dict",
    "read_toml",
    "validate_model",
]
