"""Engines for the per-source aggregate steps (DESIGN 7).

DuckDB runs the whole plan by default. Another engine (`storage.engine: spark`) runs only the
`agg_<source>` steps, which read raw events; `portable` turns those steps into SQL that any
supported dialect can run, and `spark` runs them on Spark and hands the results back.
"""

from __future__ import annotations

import duckdb

from chs.compiler import Plan
from chs.config import LoadedConfig
from chs.sources import SourceInfo


def engine_aggregates(con: duckdb.DuckDBPyConnection, loaded: LoadedConfig, sources: dict[str, SourceInfo],
                      plan: Plan) -> set[str]:
    """The `agg_<source>` tables another engine made in `con` (the run skips those steps);
    nothing under the default engine, where DuckDB runs every step itself."""
    if loaded.config.storage.engine == "duckdb":
        return set()
    from chs.engines.spark import run_aggregates  # pyspark is loaded only when asked for
    return run_aggregates(con, loaded, sources, plan)
