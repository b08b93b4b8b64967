"""term2id on a distributed engine (Dask): batch mapping of tables too large for one machine.

Optional extra `scale` (`pip install 'term2id[scale]'`). This package imports core; core never
imports it. `term2id map --engine dask` is its command-line entry; see docs/scale.md.
"""
