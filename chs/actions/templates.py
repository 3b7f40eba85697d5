"""`title:` / `detail:` Jinja templates rendered per new action, sandboxed, as plain text.

Only the (few) actions a run creates are rendered. A template that fails on one account's
data (e.g. arithmetic on a NULL) never fails the scoring run: that action gets a fallback
text that names the error, so the problem is visible where it is read.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
import jinja2.sandbox


def _finalize(value: Any) -> Any:
    """None prints as nothing; 12.0 prints as 12 (round() returns floats)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


@lru_cache(maxsize=1)
def environment() -> jinja2.sandbox.SandboxedEnvironment:
    return jinja2.sandbox.SandboxedEnvironment(
        autoescape=False, undefined=jinja2.ChainableUndefined, finalize=_finalize)


@lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    return environment().from_string(source)


def render(source: str | None, context: dict[str, Any]) -> tuple[str | None, str | None]:
    """(text, error): the rendered template, or None and a one-line error."""
    if source is None:
        return None, None
    try:
        return _compiled(source).render(context).strip(), None
    except Exception as exc:  # noqa: BLE001 - any template failure becomes visible text, never a crash
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]


def render_action(rule_id: str, title: str, detail: str | None,
                  context: dict[str, Any]) -> tuple[str, str | None]:
    """Title and detail of one action; on a template error, a fallback naming the rule and error."""
    text, error = render(title, context)
    if error is not None:
        who = context.get("name") or context.get("account_id")
        text = f"{rule_id}: {who} (title template error: {error})"
    body, error = render(detail, context)
    if error is not None:
        body = f"(detail template error: {error})"
    return text or "", body
