"""The peers of the detection benchmark, run on the same cases as poisonscan (see run.py).

- scikit-learn's IsolationForest (100 trees, fitted on the baseline): row AUROC of the planted
  rows. Encoding: numbers as they are (a missing value as the baseline's median), categories
  as their baseline frequency (unseen: 0), the same for both sides.
- cleanlab's find_label_issues on 5-fold (stratified) cross-validated predicted probabilities of a
  HistGradientBoostingClassifier fitted on the current data (what a user without a trusted
  baseline would run); for a numeric target, cleanlab.regression.learn.CleanLearning with a
  HistGradientBoostingRegressor. Precision and recall against the rows whose label was changed.
- Evidently's DataDriftPreset (its default tests and drift share 0.5), baseline as reference:
  the dataset-level drift verdict.

Cases whose files a tool cannot read as one table (a column retyped in one file) and the
cumulative layout (a baseline profile, not a table) are not given to the peers.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from attacks import LABEL, Case, Split

# Evidently is slow on large tables; it gets at most this many rows a side (a uniform sample).
EVIDENTLY_ROWS = 20_000
# The quick mode's lighter settings: Evidently on at most 5,000 rows a side, and cleanlab's
# regression module with one bootstrap round for its epistemic uncertainty (five by default).
QUICK_EVIDENTLY_ROWS = 5_000
QUICK_BOOTSTRAPS = 1


def encode(df: pd.DataFrame, ref: pd.DataFrame, features: list[str]) -> np.ndarray:
    cols = []
    for c in features:
        if pd.api.types.is_numeric_dtype(ref[c]):
            x = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            med = float(np.nanmedian(ref[c].to_numpy(dtype=float))) if ref[c].notna().any() else 0.0
            cols.append(np.where(np.isfinite(x), x, med))
        else:
            freq = ref[c].astype(str).value_counts(normalize=True)
            cols.append(df[c].astype(str).map(freq).fillna(0.0).to_numpy(dtype=float))
    return np.column_stack(cols)


def auroc(score: np.ndarray, truth: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if truth.all() or not truth.any():
        return None
    return float(roc_auc_score(truth, score))


class Fitted:
    """The peers' models fitted on one split's baseline (IsolationForest), reused by its cases."""

    def __init__(self, split: Split, seed: int, quick: bool = False) -> None:
        from sklearn.ensemble import IsolationForest

        self.split = split
        self.seed = seed
        self.evidently_rows = QUICK_EVIDENTLY_ROWS if quick else EVIDENTLY_ROWS
        self.bootstraps = QUICK_BOOTSTRAPS if quick else 5
        self.features = split.features
        x = encode(split.baseline, split.baseline, self.features)
        self.forest = IsolationForest(n_estimators=100, random_state=seed).fit(x)

    def score(self, case: Case) -> dict[str, Any]:
        if case.layout != "folders" or case.family == "schema_tamper":
            return {}
        cur = pd.concat(case.parts, ignore_index=True)
        truth = np.concatenate(case.truth)
        out: dict[str, Any] = {}
        x = encode(cur, self.split.baseline, self.features)
        out["if_auroc"] = auroc(-self.forest.score_samples(x), truth)
        if case.label_changed is not None and case.label_changed.any():
            out.update(self.cleanlab(cur, x, case.label_changed))
        out["evidently_drift"] = self.evidently(cur)
        return out

    def cleanlab(self, cur: pd.DataFrame, x: np.ndarray, changed: np.ndarray) -> dict[str, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        y = cur[LABEL].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.split.numeric_target:
                from cleanlab.regression.learn import CleanLearning

                model = HistGradientBoostingRegressor(max_iter=100, random_state=self.seed)
                learner = CleanLearning(model, seed=self.seed, n_boot=self.bootstraps)
                found = learner.find_label_issues(x, y.astype(float))
                issues = found["is_label_issue"].to_numpy(dtype=bool)
            else:
                from cleanlab.filter import find_label_issues

                _, codes = np.unique(y, return_inverse=True)
                model = HistGradientBoostingClassifier(max_iter=100, random_state=self.seed)
                folds = StratifiedKFold(5, shuffle=True, random_state=self.seed)
                probs = cross_val_predict(model, x, codes, cv=folds, method="predict_proba")
                issues = find_label_issues(codes, probs)
        tp = int((issues & changed).sum())
        return {
            "cleanlab_precision": tp / issues.sum() if issues.sum() else None,
            "cleanlab_recall": tp / changed.sum(),
            "cleanlab_flagged": int(issues.sum()),
        }

    def evidently(self, cur: pd.DataFrame) -> bool | None:
        from evidently import Report
        from evidently.presets import DataDriftPreset

        ref = self.split.baseline
        if len(ref) > self.evidently_rows:
            ref = ref.sample(n=self.evidently_rows, random_state=self.seed)
        if len(cur) > self.evidently_rows:
            cur = cur.sample(n=self.evidently_rows, random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
        for m in snap.dict()["metrics"]:
            name = str(m.get("metric_name") or m.get("metric_id") or "")
            if name.startswith("DriftedColumnsCount"):
                return bool(m["value"]["share"] >= 0.5)
        return None
