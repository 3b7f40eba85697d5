"""A snapshot's exports (scores.parquet, scores.csv, drivers.parquet), written beside the history.

DuckDB runs a statement on as many threads as its input has row groups (122,880 rows). With
fewer than two row groups of accounts, every statement after the aggregates therefore runs on
one core while the others idle. Then the exports are written by a second connection of the same
database in a thread, while the first connection stores the history: at 100k accounts on 2
cores the three files cost no wall time of their own. `out_scores` and `scored` are tables of
the run's in-memory database, not temp tables (private to their connection), so the second
connection reads them where they are. With more accounts
each statement already uses every core, so `start` writes them at once, while the history
is still only read (chs.history_file): they cost readers no waiting. Even then the CSV (a
second connection fetching, polars formatting) and the Parquet writes each leave part of a
core idle, so the CSV is written beside the two Parquet files and `start` waits for both:
at 1M accounts ~0.6 s less than one after the other.

Either way they are written before the history commits (`finish`): a file that cannot be
written leaves the snapshot unstored, and `Staging.files` keeps the documented order.
"""

from __future__ import annotations

import threading

import duckdb

from chs.history import drivers_sql
from chs.outputs import Staging
from chs.tree import TreeNode

ROW_GROUP_ROWS = 122_880
FILES = ("scores.parquet", "scores.csv", "drivers.parquet")


class Exports:
    """`start()` before the history is opened for writing, `finish()` before its COMMIT."""

    def __init__(self, con: duckdb.DuckDBPyConnection, write: Staging, nodes: list[TreeNode], run_id: str,
                 config_hash: str, accounts: int):
        self.con, self.write, self.accounts = con, write, accounts
        self.jobs = [("SELECT * FROM out_scores", FILES[0], 0), ("SELECT * FROM out_scores", FILES[1], accounts),
                     (drivers_sql(nodes, run_id, config_hash), FILES[2], 0)]
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def mode(self) -> str:
        """`in turn` on this connection (one thread, or a redactor, which prepares its
        pseudonymising on this connection); `beside`: all three on a second connection while
        this one stores the history (a statement over the accounts has one row group, so
        DuckDB would leave cores idle); else `split`: the CSV on a second connection beside
        the Parquet files on this one, both done before the history is opened for writing."""
        threads = int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        if self.write.redactor is not None or threads < 2:
            return "in turn"
        return "beside" if self.accounts < 2 * ROW_GROUP_ROWS else "split"

    def start(self) -> None:
        """Write the files (`in turn`, `split`) or start writing them (`beside`)."""
        mode = self.mode()
        if mode == "in turn":
            self._write(self.con, self.jobs)
        elif mode == "beside":
            self._spawn(self.jobs)
        else:
            parquet = [job for job in self.jobs if job[1].endswith(".parquet")]
            self._spawn([job for job in self.jobs if job not in parquet])
            try:
                self._write(self.con, parquet)
            finally:
                self.wait()  # the CSV's error, if any, is raised by finish()

    def _spawn(self, jobs: list[tuple[str, str, int]]) -> None:
        cursor = self.con.cursor()  # its default database is `memory`: out_scores and scored
        self.thread = threading.Thread(target=self._run, args=(cursor, jobs), name="chs-exports", daemon=True)
        self.thread.start()

    def _run(self, cursor: duckdb.DuckDBPyConnection, jobs: list[tuple[str, str, int]]) -> None:
        try:
            self._write(cursor, jobs)
        except BaseException as exc:  # re-raised by finish(), in the caller's thread
            self.error = exc
        finally:
            cursor.close()

    def _write(self, con: duckdb.DuckDBPyConnection, jobs: list[tuple[str, str, int]]) -> None:
        for query, name, rows in jobs:
            self.write.copy(con, query, name, rows=rows)

    def finish(self) -> None:
        """The files are written (or what stopped them is raised)."""
        self.wait()
        if self.error is not None:
            raise self.error
        # Written beside or after the actions' files: list them in the documented order.
        self.write.files = list(FILES) + [f for f in self.write.files if f not in FILES]

    def wait(self) -> None:
        """Let the second connection end (on the way out of a failed snapshot as well)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
