"""Worked examples that ship with recsearch (importable from anywhere, e.g. `model.builder=recsearch.examples.my_hypermodel:build_model`)."""
