"""Agent-based model of the Jakarta-Tokyo city-staff exchange and Jakarta's service quality."""

from sim.config import (
    BehaviorConfig,
    ModelConfig,
    NetworkConfig,
    ProgramConfig,
    ScenarioConfig,
    config_from_dict,
    config_to_dict,
    validate_config,
)
from sim.errors import ConfigError, DataError, FinishedError, UserError
from sim.model import City, ExchangeModel, build_city
from sim.pairing import gain, no_exchange
from sim.runner import RunResult, run, run_detailed
from sim.spawn_guard import warn_if_unguarded

__version__ = "0.1.0"

warn_if_unguarded()  # once, in the script's own process (Mesa's batch_run spawns its workers)

__all__ = [
    "BehaviorConfig",
    "City",
    "ConfigError",
    "DataError",
    "FinishedError",
    "ExchangeModel",
    "ModelConfig",
    "NetworkConfig",
    "ProgramConfig",
    "ScenarioConfig",
    "UserError",
    "build_city",
    "gain",
    "no_exchange",
    "config_from_dict",
    "config_to_dict",
    "RunResult",
    "run",
    "run_detailed",
    "validate_config",
]
