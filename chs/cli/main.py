"""`chs` entry point: global options and the command table (DESIGN 4)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from chs import __version__
from chs.cli import common
from chs.cli.actions_cmd import actions_cmd
from chs.cli.backtest_cmd import backtest_cmd
from chs.cli.calibrate_cmd import calibrate_cmd
from chs.cli.diff_cmd import diff_cmd
from chs.cli.explain_cmd import explain_cmd
from chs.cli.report_cmd import report_cmd
from chs.cli.score_cmds import compile_cmd, init_cmd, score_cmd, validate_cmd
from chs.cli.scores_cmd import scores_cmd

app = typer.Typer(
    name="chs", help="Customer Health Score: score accounts from your exports, explain, report, act.",
    no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chs {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[Optional[str], typer.Option("--config", "-c", help="Config file (default: $CHS_CONFIG or ./chs.yaml).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr (timings, tracebacks).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Customer Health Score toolkit."""
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    common.OPTIONS.config, common.OPTIONS.quiet = config, quiet
    common.OPTIONS.verbose, common.OPTIONS.no_color = verbose, no_color


app.command("init")(init_cmd)
app.command("validate")(validate_cmd)
app.command("compile")(compile_cmd)
app.command("score")(score_cmd)
app.command("actions")(actions_cmd)
app.command("report")(report_cmd)
app.command("explain")(explain_cmd)
app.command("backtest")(backtest_cmd)
app.command("calibrate")(calibrate_cmd)
app.command("diff")(diff_cmd)
app.command("scores")(scores_cmd)


def _hide_flag_types() -> None:
    """Typer's help shows `<bool>` beside every flag, which reads as if a value were expected;
    a flag needs no type in its help."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_chs", False):
        return

    def display_type_rich(self: TyperOption, ctx):  # type: ignore[no-untyped-def]
        return None if self.is_flag else original(self, ctx)

    display_type_rich._chs = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def run() -> None:
    import os
    import sys

    from chs.cli.argv import example_name_default, hoist_global_options
    # chs has no pydantic plugins; looking for them scans every installed package's entry
    # points (25 ms of each command's start-up).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _hide_flag_types()
    command = typer.main.get_command(app)
    args = sys.argv[1:]
    if "--example" in args:
        # A bare `init --example` gets its default name first, so hoisting never takes a
        # global option that follows it for the example's name.
        from chs.init_project import DEFAULT_EXAMPLE, example_names
        args = example_name_default(args, example_names(), DEFAULT_EXAMPLE)
    args = hoist_global_options(args, command) if hasattr(command, "commands") else args
    command(args=args, prog_name="chs")
