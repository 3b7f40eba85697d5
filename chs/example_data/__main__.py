"""``python -m chs.example_data OUT_DIR``: generate the example exports, print the summary as JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from chs.example_data.core import DEFAULT_END, DEFAULT_EVENTS_PER_ACCOUNT_MONTH, generate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chs.example_data", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="folder to write the exports into")
    parser.add_argument("--accounts", type=int, default=500, help="number of accounts (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=DEFAULT_END,
                        help=f"last day with data, YYYY-MM-DD (default {DEFAULT_END})")
    parser.add_argument("--months", type=int, default=18, help="calendar months of history (default 18)")
    parser.add_argument("--events-per-account-month", type=float, default=DEFAULT_EVENTS_PER_ACCOUNT_MONTH,
                        help="average usage events per active account and month "
                             f"(default {DEFAULT_EVENTS_PER_ACCOUNT_MONTH:g})")
    return parser


if __name__ == "__main__":
    args = _parser().parse_args()
    summary = generate(args.out_dir, accounts=args.accounts, seed=args.seed, end=args.end,
                       months=args.months, events_per_account_month=args.events_per_account_month)
    print(json.dumps(summary, indent=2))
