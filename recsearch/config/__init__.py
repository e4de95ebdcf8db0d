"""Config composition (Hydra compose API) and validation against typed schemas."""

from recsearch.config.compose import compose_config, conf_dir, experiments_dir, group_options, load_config_file
from recsearch.config.validate import validate_config

__all__ = ["compose_config", "conf_dir", "experiments_dir", "group_options", "load_config_file", "validate_config"]
