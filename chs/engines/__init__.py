"""Engines for the per-source aggregate steps (DESIGN 7).

DuckDB runs the whole plan by default. Another engine (`storage.engine: spark`) runs only the
`agg_<source>` steps, which read raw events; `portable` turns those steps into SQL that any
supported dialect can run, and `spark` runs them on Spark and hands the results back.
"""
