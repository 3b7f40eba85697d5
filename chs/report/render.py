"""View model -> one self-contained HTML file (Jinja, autoescaped), written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from chs.errors import OutputError
from chs.report import svg
from chs.report.model import Report


def fmt_int(value: float | None) -> str:
    return "–" if value is None else f"{round(value):,}"


def fmt_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def fmt_delta(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def fmt_share(part: float, whole: float | None) -> str:
    return "–" if not whole else f"{100 * part / whole:.1f}%"


def fmt_breakable(value: str | None, empty: str = "–") -> Markup:
    """Escaped text with a break opportunity after `@`, so that an e-mail address wraps
    between user and domain on a narrow page instead of widening the table."""
    if value is None:
        return Markup(escape(empty))
    text = str(escape(value))
    return Markup(text.replace("@", "@<wbr>")) if len(value) > 16 else Markup(text)


def environment() -> Environment:
    env = Environment(loader=PackageLoader("chs.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(int=fmt_int, score=fmt_score, delta=fmt_delta, pct=fmt_pct, breakable=fmt_breakable)
    env.globals.update(share=fmt_share, svg=svg)
    return env


def render_html(report: Report) -> str:
    return environment().get_template("report.html.j2").render(r=report)


def write_atomic(path: Path, text: str) -> Path:
    """Write next to the target, then os.replace: readers see the old or the new file, never half."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    return path
