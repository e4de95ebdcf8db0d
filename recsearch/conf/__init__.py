"""The configs packaged with recsearch (Hydra search path `pkg://recsearch.conf`): one folder per group."""
