"""`chs` entry point: global options and the command table (DESIGN 4)."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Optional

import typer

from chs import __version__
from chs.cli import common

# Command name -> (module, function). A run imports and registers only the command it was
# given (every module and typer's build of every command's parameters cost ~0.08 s of each
# `chs explain`); `chs --help`, completion and an unknown name get them all.
COMMANDS = {
    "init": ("chs.cli.score_cmds", "init_cmd"),
    "validate": ("chs.cli.score_cmds", "validate_cmd"),
    "compile": ("chs.cli.score_cmds", "compile_cmd"),
    "score": ("chs.cli.score_cmds", "score_cmd"),
    "actions": ("chs.cli.actions_cmd", "actions_cmd"),
    "report": ("chs.cli.report_cmd", "report_cmd"),
    "explain": ("chs.cli.explain_cmd", "explain_cmd"),
    "backtest": ("chs.cli.backtest_cmd", "backtest_cmd"),
    "calibrate": ("chs.cli.calibrate_cmd", "calibrate_cmd"),
    "diff": ("chs.cli.diff_cmd", "diff_cmd"),
    "scores": ("chs.cli.scores_cmd", "scores_cmd"),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chs {__version__}")
        raise typer.Exit()


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


def build_app(only: str | None = None) -> typer.Typer:
    """The command table; `only`: that command alone (the others are neither imported nor built)."""
    app = typer.Typer(
        name="chs", help="Customer Health Score: score accounts from your exports, explain, report, act.",
        no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main)
    for name, (module, function) in COMMANDS.items():
        if only is None or name == only:
            app.command(name)(getattr(importlib.import_module(module), function))
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # every command (tests, documentation)
        return build_app()
    raise AttributeError(name)


def _hide_flag_types() -> None:
    """Typer's help shows `<bool>` beside every flag, which reads as if a value were expected;
    a flag needs no type in its help."""
    from typer.core import TyperOption

    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_chs", False):  # typer < 0.29 has no such hook
        return

    def display_type_rich(self: TyperOption, ctx):  # type: ignore[no-untyped-def]
        return None if self.is_flag else original(self, ctx)

    display_type_rich._chs = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def run() -> None:
    import os
    import sys

    from chs.cli.argv import command_name, example_name_default, hoist_global_options
    # chs has no pydantic plugins; looking for them scans every installed package's entry
    # points (25 ms of each command's start-up).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _hide_flag_types()
    args = sys.argv[1:]
    name = command_name(args)
    command = typer.main.get_command(build_app(name if name in COMMANDS else None))
    if "--example" in args:
        # A bare `init --example` gets its default name first, so hoisting never takes a
        # global option that follows it for the example's name.
        from chs.init_project import DEFAULT_EXAMPLE, example_names
        args = example_name_default(args, example_names(), DEFAULT_EXAMPLE)
    args = hoist_global_options(args, command) if hasattr(command, "commands") else args
    command(args=args, prog_name="chs")
