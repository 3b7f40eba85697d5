"""Actions (DESIGN 2.4): rules -> de-duplicated calls-to-action, their outputs, delivery and state.

Modules: `rules` (action_input and rule hits in SQL), `reason` (top risk drivers in words),
`templates` (sandboxed title/detail), `store` (de-dup, ids, storage), `export`
(actions.csv/jsonl), `delivery` (webhook), `state` (list and close).
"""

from chs.actions.delivery import deliver_pending
from chs.actions.export import ACTION_COLUMNS, write_action_outputs
from chs.actions.state import close_action, list_actions
from chs.actions.store import check_actions, evaluate_actions

__all__ = ["ACTION_COLUMNS", "check_actions", "close_action", "deliver_pending", "evaluate_actions",
           "list_actions", "write_action_outputs"]
