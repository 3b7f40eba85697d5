"""Global options may follow the command: `chs validate --config x.yaml` = `chs --config x.yaml validate`.

Click only reads a group's options before the subcommand, so `run()` moves the global ones
forward first. It knows which of the subcommand's own options take a value, so a value
that happens to look like a global flag (`--note -q`) stays where it is; `--` ends it.
"""

from __future__ import annotations

from typing import Any

GLOBAL_FLAGS = {"--quiet", "-q", "--verbose", "-v", "--no-color"}
GLOBAL_VALUED = {"--config", "-c"}


def _valued_options(command: Any) -> set[str]:
    """Options of a (typer/click) command that take a value; flags and arguments do not."""
    if command is None:
        return set()
    return {opt for p in command.params if hasattr(p, "is_flag") and not p.is_flag
            for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")}


def _command_index(argv: list[str]) -> int:
    """Where the command name stands: after the global options given before it."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in GLOBAL_VALUED:
            i += 2
        elif token.startswith("-"):
            i += 1
        else:
            break
    return i


def command_name(argv: list[str]) -> str | None:
    """The command the arguments name (None: none, e.g. `chs --help`)."""
    i = _command_index(argv)
    return argv[i] if i < len(argv) else None


def hoist_global_options(argv: list[str], group: Any) -> list[str]:
    """Move global options found after the command name to before it."""
    i = _command_index(argv)
    if i >= len(argv):
        return argv
    command = group.commands.get(argv[i])
    valued = _valued_options(command)
    moved: list[str] = []
    rest: list[str] = []
    j = i + 1
    while j < len(argv):
        token = argv[j]
        if token == "--":
            rest += argv[j:]
            break
        if token in GLOBAL_FLAGS:
            moved.append(token)
        elif token in GLOBAL_VALUED and j + 1 < len(argv):
            moved += [token, argv[j + 1]]
            j += 1
        elif token.startswith("--config="):
            moved.append(token)
        else:
            rest.append(token)
            if token in valued and j + 1 < len(argv):  # the option's value, whatever it looks like
                rest.append(argv[j + 1])
                j += 1
        j += 1
    return argv[:i] + moved + [argv[i]] + rest


def example_name_default(argv: list[str], names: list[str], default: str) -> list[str]:
    """`chs init [DIR] --example [NAME]`: a bare `--example` means the default example.

    Click options cannot take an optional value, so a `--example` of the init command that
    is not followed by a known example name becomes `--example=DEFAULT`. That keeps
    `chs init DIR --example` and the older `chs init --example DIR` working; `--example
    NAME` and `--example=NAME` pass through (an unknown NAME after `=` is an error)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # global options stand before the command
        i += 2 if argv[i] in GLOBAL_VALUED else 1
    if i >= len(argv) or argv[i] != "init":
        return argv
    out = argv[: i + 1]
    rest = argv[i + 1:]
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":
            out += rest[j:]
            break
        if token == "--example":
            if j + 1 < len(rest) and rest[j + 1] in names:
                out += [f"--example={rest[j + 1]}"]
                j += 2
                continue
            out.append(f"--example={default}")
        else:
            out.append(token)
        j += 1
    return out
