"""Action rules -> de-duplicated calls-to-action (DESIGN 2.4); the pipeline's entry points.

The work lives in the `chs.actions` package; this module keeps the names the pipeline imports.
"""

from __future__ import annotations

from chs.actions import ACTION_COLUMNS, check_actions, deliver_pending, evaluate_actions, write_action_outputs

__all__ = ["ACTION_COLUMNS", "check_actions", "deliver_pending", "evaluate_actions", "write_action_outputs"]
