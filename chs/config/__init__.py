"""Config: YAML -> validated models with file:line errors."""

from chs.config.load import LoadedConfig, load_config

__all__ = ["LoadedConfig", "load_config"]
