"""The agent's configuration: one agent file plus one file per municipality (issue #13).

``load_config(path, env)`` returns an ``AgentConfig`` or raises ``ConfigError`` listing every
problem with file, line and key; ``check_config(path, host)`` returns those problems, and with a
plugin host also checks each source's and sink's options.
"""

from sf1630.config.check import check_config, make_host_for
from sf1630.config.load import CONFIG_ENV, ENVIRONMENT_ENV, ReadResult, config_path, load_config, read_config
from sf1630.config.model import (INF_REF, Account, AgentConfig, Environment, ExpectConfig, MunicipalityConfig,
                                 Problem, ReceiveConfig, RouteValues, SendConfig, SinkConfig)

__all__ = [
    "CONFIG_ENV", "ENVIRONMENT_ENV", "INF_REF", "Account", "AgentConfig", "Environment", "ExpectConfig",
    "MunicipalityConfig", "Problem", "ReadResult", "ReceiveConfig", "RouteValues", "SendConfig", "SinkConfig",
    "check_config", "config_path", "load_config", "make_host_for", "read_config",
]
