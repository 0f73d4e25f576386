"""The shared bottom layer: what `detector`, `search_spaces`, `nars` and the benchmarks all need, and
nothing of theirs (it imports none of them).

`errors` (one-line user errors, `run_cli`), `atomic` (crash-safe writes), `lazy` (PEP 562 package
exports), `yaml_io` (YAML files with one-line errors), `nested` (dotted keys into config dicts),
`overrides` (`--set key=value`), `schema` (pydantic sections: strictness, one-line validation errors),
`docs` (Markdown tables generated from those sections), `jsonl` (JSON-lines logs) and `machine` (the
CPU model).
"""
