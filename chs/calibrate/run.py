"""`chs calibrate`: fit the tree's weights on a training period, check them on a later one (DESIGN 6).

The current config is rescored on the training and test dates in a scratch database (history
untouched). Groups are fitted bottom-up: a group's children's sub-scores (a child group
recomputed with its own new weights) predict churn within the horizon; the non-negative
coefficients become the new weights, scaled to the same sum as the hand weights. The
proposal is written beside the hand config (only weight values change) and then rescored
with the real engine on the held-out test dates, so "proposed" numbers are exactly what
publishing it would give, segment overrides included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chs.backtest import metrics
from chs.calibrate.fit import auto_l1, choose_l1, fit_group, group_score, risk_features
from chs.calibrate.screen import screen
from chs.calibrate.yaml_weights import rewrite_weights
from chs.config import LoadedConfig, load_config
from chs.db import memory
from chs.durations import Step, parse_step, step_dates
from chs.errors import DataError, UsageError
from chs.outcomes import labels_sql, load_outcomes, require_outcomes
from chs.scratch import rescore
from chs.sql import ident, node_column
from chs.tree import TreeNode

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CalibrateOptions:
    train_from: dt.date
    train_to: dt.date
    test_from: dt.date | None = None
    test_to: dt.date | None = None
    horizon: str = "90d"
    every: str = "7d"
    output: Path | None = None
    l1: float | None = None  # None: chosen per group by cross-validation over accounts
    bootstrap: int = 200


def default_output(loaded: LoadedConfig) -> Path:
    return loaded.path.with_name(loaded.path.stem + ".calibrated.yaml")


def _labelled(dates: list[dt.date], horizon: Step, observed: dt.date) -> list[dt.date]:
    return [d for d in dates if horizon.add(d) <= observed]


def _fetch(con, horizon: Step, observed: dt.date, nodes: list[TreeNode], variables: list[str]) -> dict:
    node_cols = "".join(f", CAST(l.{ident(node_column(n.path))} AS DOUBLE) AS {ident('n_' + n.path)}"
                        for n in nodes if n.path)
    var_cols = "".join(f", v.{ident(v)} AS {ident('v_' + v)}" for v in variables)
    data = con.execute(
        f"SELECT l.as_of, l.account_id, CAST(l.score AS DOUBLE) AS score{node_cols}{var_cols}, l.label_0\n"
        f"FROM ({labels_sql('rescored', [horizon], observed)}) AS l\n"
        + ("LEFT JOIN rescored_vars AS v ON v.as_of = l.as_of AND v.account_id = l.account_id\n" if variables else "")
        + "WHERE l.label_0 IS NOT NULL").fetchnumpy()
    out = {}
    for k, v in data.items():
        if hasattr(v, "mask") and v.dtype.kind == "f":
            v = v.filled(np.nan)
        elif hasattr(v, "mask"):
            v = v.filled(False) if v.dtype.kind == "b" else v.data
        out[k] = np.asarray(v)
    out["label_0"] = out["label_0"].astype(np.int64)
    return out


def _score_metrics(score: np.ndarray, y: np.ndarray, accounts: np.ndarray, reps: int) -> dict:
    keep = ~np.isnan(score)
    risk, yy = 100.0 - score[keep], y[keep]
    ci = metrics.auc_interval(risk, yy, accounts[keep], reps=reps) if reps else None
    lift_10, recall_10 = metrics.top_share(risk, yy, 0.10)
    lift_20, _ = metrics.top_share(risk, yy, 0.20)
    return {"auc": metrics.auc(risk, yy), "auc_ci": list(ci) if ci else None, "lift_10": lift_10,
            "recall_10": recall_10, "lift_20": lift_20, "n": int(keep.sum()), "positives": int(yy.sum())}


def fit_tree(nodes: list[TreeNode], pairs: dict, train: np.ndarray, l1: float | None) -> dict:
    """Bottom-up fit of every group's children weights on the training pairs."""
    y = pairs["label_0"][train]
    accounts = pairs["account_id"][train]
    clusters = len(np.unique(accounts))
    by_path = {n.path: n for n in nodes}
    sub: dict[str, np.ndarray] = {n.path: pairs["n_" + n.path] for n in nodes if n.is_leaf}
    new_w = {n.path: n.weight for n in nodes if n.path}
    wrong, flat, penalties = [], [], {}
    for group in sorted((n for n in nodes if not n.is_leaf), key=lambda n: -n.depth):
        kids = list(group.children)
        stack = np.column_stack([sub[k] for k in kids])
        old = np.array([by_path[k].weight for k in kids])
        if len(kids) > 1:
            x = risk_features(stack)
            lam = l1 if l1 is not None else choose_l1(x[train], y, accounts)
            penalties[group.path] = lam
            # "Wrong way" needs more than noise, whatever penalty the fit itself uses.
            fit = fit_group(x[train], y, lam, wrong_threshold=max(lam, auto_l1(x[train], y, clusters)))
            total = fit.coefficients.sum()
            if total > 0:
                for k, c in zip(kids, fit.coefficients):
                    new_w[k] = float(c / total * old.sum())
            else:
                flat.append(group.path)
            wrong += [k for k, w in zip(kids, fit.wrong_way) if w]
        sub[group.path] = group_score(stack, np.array([new_w[k] for k in kids]))
    return {"weights": new_w, "wrong_way": wrong, "no_signal_groups": flat, "penalties": penalties,
            "in_sample_score": sub[""]}


def calibrate(loaded: LoadedConfig, opts: CalibrateOptions, progress: Progress | None = None) -> dict:
    require_outcomes(loaded)
    horizon, every = parse_step(opts.horizon), parse_step(opts.every)
    output = (opts.output or default_output(loaded)).resolve()
    if output == loaded.path.resolve():
        raise UsageError(f"{output}: calibrate never overwrites the hand config; choose another -o")
    probe = memory()
    observed = load_outcomes(probe, loaded).observed_until
    probe.close()
    if observed is None:
        raise DataError("outcomes: no churn dates and no outcomes.observed_until; nothing to calibrate on")
    train_dates = _labelled(step_dates(opts.train_from, opts.train_to, every), horizon, observed)
    if not train_dates:
        raise DataError(f"training period {opts.train_from}..{opts.train_to}: no snapshot + {opts.horizon} is on or "
                        f"before observed_until {observed}; choose an earlier period or a shorter horizon")
    warnings: list[str] = []
    if output.parent != loaded.path.resolve().parent:
        warnings.append(f"{output} is not beside {loaded.path}: relative paths in it resolve from its own folder")
    test_from = opts.test_from or horizon.add(opts.train_to)
    test_to = opts.test_to or observed
    test_dates = _labelled(step_dates(test_from, test_to, every), horizon, observed) if test_from <= test_to else []
    if not test_dates:
        warnings.append(f"no held-out test period with known outcomes ({test_from}..{test_to}, horizon "
                        f"{opts.horizon}, observed until {observed}); give --test-from/--test-to")
    elif min(test_dates) < horizon.add(max(train_dates)):
        warnings.append(f"the test period starts {min(test_dates)}, before the last training snapshot + horizon "
                        f"({horizon.add(max(train_dates))}): training labels saw churn inside the test period")
    scratch = rescore(loaded, sorted(set(train_dates) | set(test_dates)), keep_variables=True, progress=progress)
    con, nodes = scratch.con, scratch.prepared.plan.nodes
    load_outcomes(con, loaded)
    in_tree = {n.variable for n in nodes if n.is_leaf}
    variables = [c for c in (r[0] for r in con.execute("DESCRIBE rescored_vars").fetchall())
                 if c not in ("as_of", "account_id") and c not in in_tree]
    pairs = _fetch(con, horizon, observed, nodes, variables)
    as_of = pairs["as_of"].astype("datetime64[D]")
    train = (as_of >= np.datetime64(min(train_dates))) & (as_of <= np.datetime64(max(train_dates)))
    y = pairs["label_0"]
    if y[train].sum() == 0:
        raise DataError(f"training period {opts.train_from}..{opts.train_to}: no account churned within "
                        f"{opts.horizon} of any snapshot; nothing to fit")
    fitted = fit_tree(nodes, pairs, train, opts.l1)
    node_auc = {n.path: metrics.auc(100.0 - (pairs["score"] if not n.path else pairs["n_" + n.path])[train], y[train])
                for n in nodes}
    candidates = screen({v: pairs["v_" + v][train].astype(np.float64) for v in variables}, y[train])
    weights = {n.path: [n.weight, round(fitted["weights"][n.path], 6)] for n in nodes if n.path}
    text = loaded.path.read_text(encoding="utf-8")
    from chs.calibrate.yaml_weights import format_weight
    proposal = rewrite_weights(text, {p: float(format_weight(w[1])) for p, w in weights.items()})
    from chs.report.render import write_atomic
    write_atomic(output, proposal)

    reps = opts.bootstrap
    result = {
        "train": {"from": min(train_dates).isoformat(), "to": max(train_dates).isoformat(),
                  "snapshots": len(train_dates), "n": int(train.sum()), "positives": int(y[train].sum()),
                  "hand": _score_metrics(pairs["score"][train], y[train], pairs["account_id"][train], 0),
                  "proposed_in_sample": _score_metrics(fitted["in_sample_score"][train], y[train],
                                                       pairs["account_id"][train], 0),
                  "nodes": node_auc},
        "test": None, "weights": weights, "wrong_way": fitted["wrong_way"],
        "no_signal_groups": fitted["no_signal_groups"], "penalties": fitted["penalties"],
        "candidates": [c for c in candidates if c["worth_adding"]], "screened": candidates,
        "output": str(output), "horizon": opts.horizon, "observed_until": observed.isoformat(),
        "warnings": warnings, "labels": {n.path: n.label for n in nodes},
    }
    if test_dates:
        test = (as_of >= np.datetime64(min(test_dates))) & (as_of <= np.datetime64(max(test_dates)))
        # Same data as the hand config, wherever the proposal was written.
        proposed_loaded = dataclasses.replace(load_config(output), base_dir=loaded.base_dir)
        p_scratch = rescore(proposed_loaded, test_dates, progress=progress)
        load_outcomes(p_scratch.con, proposed_loaded)
        p_pairs = _fetch(p_scratch.con, horizon, observed, p_scratch.prepared.plan.nodes, [])
        result["test"] = {
            "from": min(test_dates).isoformat(), "to": max(test_dates).isoformat(), "snapshots": len(test_dates),
            "hand": _score_metrics(pairs["score"][test], y[test], pairs["account_id"][test], reps),
            "proposed": _score_metrics(p_pairs["score"], p_pairs["label_0"], p_pairs["account_id"], reps)}
    return result


def to_json(result: dict) -> dict:
    """The `--json` document (DESIGN 6) with the extra detail of `result`."""
    return {k: v for k, v in result.items() if k != "labels"}
