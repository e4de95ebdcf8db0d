"""Config composition (Hydra compose API over the user's and the packaged config folders) and validation."""

from recsearch.config.compose import compose_config, compose_with_choices, load_config_file, parse_overrides
from recsearch.config.searchpath import conf_dirs, experiments_dir, group_files, group_options, package_conf_dir
from recsearch.config.validate import validate_config

__all__ = ["compose_config", "compose_with_choices", "conf_dirs", "experiments_dir", "group_files", "group_options",
           "load_config_file", "package_conf_dir", "parse_overrides", "validate_config"]
