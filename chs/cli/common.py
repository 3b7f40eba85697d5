"""State and helpers shared by every command: global options, consoles, error mapping."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.segment import Segment

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    config: str | None = None
    quiet: bool = False
    verbose: bool = False
    no_color: bool = False


OPTIONS = Options()


# Terminal escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, other `ESC x`) and
# every other C0/C1 control character except tab and newline. An account name or a title is
# data from an export: printed raw it could retitle the window, hide text, or forge a link.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]"
                      r"|\x9d[^\x07\x9c]*[\x07\x9c]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: Any) -> str:
    """`value` as text safe to print on a terminal: escape sequences and control characters
    (C0 except tab and newline, DEL, C1) removed. Every renderer's values pass through it."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


class SafeConsole(Console):
    """A Rich console that cleans the text of every segment it writes (Rich's own colour
    codes are added after this, from styles), so no renderer can print data raw."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control or not seg.text else Segment(clean(seg.text), seg.style, seg.control)
            for seg in buffer)


def _color_off() -> bool:
    return OPTIONS.no_color or "NO_COLOR" in os.environ


def out() -> Console:
    """Results: stdout. No colour off a terminal or with NO_COLOR / --no-color."""
    return SafeConsole(file=sys.stdout, no_color=_color_off(), highlight=False, soft_wrap=True,
                   force_terminal=None if not _color_off() else False)


def err() -> Console:
    """Logs and progress: stderr."""
    return SafeConsole(file=sys.stderr, no_color=_color_off(), highlight=False, soft_wrap=True,
                   force_terminal=None if not _color_off() else False)


def log(message: str) -> None:
    if not OPTIONS.quiet:
        err().print(message, markup=False)


def warn(message: str) -> None:
    """Data problems (rejected rows, stale exports): on stderr even with --quiet, which hides
    progress and summaries, never problems with the data."""
    err().print(message, markup=False)


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[str], None] | None]:
    """A Rich progress bar on a terminal (not with --quiet); off a terminal one line per step
    only with --verbose. Yields the callback the library calls once per finished step."""
    if OPTIONS.quiet:
        yield None
        return
    if not sys.stderr.isatty():
        yield (lambda message: err().print(message, markup=False)) if OPTIONS.verbose else None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err(), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(message: str) -> None:
            bar.update(task, advance=1, description=message)
            if OPTIONS.verbose:
                bar.console.print(message, markup=False)

        yield advance


def debug(message: str) -> None:
    if OPTIONS.verbose and not OPTIONS.quiet:
        err().print(message, markup=False, style="dim")


def show_progress() -> bool:
    """Progress only on a terminal, never with --quiet."""
    return sys.stderr.isatty() and not OPTIONS.quiet


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date like 2026-11-23", param_hint=option) from None


def date_range(as_of: str | None, start: str | None, end: str | None, every: str | None) -> list[dt.date]:
    """The dates a command runs on: one `--as-of` (default today, UTC) or `--from/--to/--every`."""
    from chs.durations import parse_step, step_dates
    today = dt.datetime.now(dt.UTC).date()
    if start is None:
        if end is not None or every is not None:
            raise typer.BadParameter("--to and --every need --from", param_hint="--from")
        return [parse_date(as_of, "--as-of") or today]
    if as_of is not None:
        raise typer.BadParameter("use either --as-of or --from", param_hint="--as-of")
    first, last = parse_date(start, "--from"), parse_date(end, "--to") or today
    assert first is not None
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    try:
        step = parse_step(every or "1d")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--every") from None
    return step_dates(first, last, step)


def load():
    """The validated config named by --config / CHS_CONFIG / ./chs.yaml."""
    from chs.config import load_config
    return load_config(OPTIONS.config)


def handle_errors(func: F) -> F:
    """Turn library errors into `error: ...` on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from chs.errors import ChsError, ConfigError
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter, SystemExit):
            raise
        except ConfigError as exc:
            console = err()
            for problem in exc.problems:
                console.print(f"error: {problem}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except ChsError as exc:
            err().print(f"error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err().print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the one place that maps everything to exit 70
            if OPTIONS.verbose:
                traceback.print_exc()
            err().print(f"internal error: {type(exc).__name__}: {exc} (run with --verbose for details)",
                        markup=False)
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]
