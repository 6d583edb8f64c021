"""A script whose import resolves nowhere: tests/js/docs.test.mjs checks that
tools/check_scripts.py reports it (the module bench/ once imported under a name no file has)."""

from bench_batches import padded_batches  # noqa: F401
