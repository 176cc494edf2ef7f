"""The planted attacks of the detection benchmark (see run.py).

Each attack takes the split (a `Split`: the baseline and current halves of one real set), a
seeded numpy generator and the number of rows to poison, and returns a `Case`: the current data
as its part files, the ground truth per current row, what a finding must name to count as
naming the attack (columns, sources), and the exact p-value of the planted rows against the
baseline where one exists (run.py adjusts them across cases, Benjamini-Hochberg). The choices
an attack makes (which slice, which column, which class) are drawn from the data with the
generator, never written for one set.

Rows an attack adds go into a new file, `part-4` (a new partition holds them), in random order;
rows it changes in place are drawn from all of the current data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

PARTS = 4
LABEL = "label"


@dataclasses.dataclass
class Split:
    """One baseline/current split of a real set, with what the attacks need to know of it."""

    name: str
    baseline: pd.DataFrame
    current: pd.DataFrame
    numeric_target: bool
    label_type_flags: list[str]

    @property
    def features(self) -> list[str]:
        return [c for c in self.current.columns if c != LABEL]

    def numeric_columns(self, min_distinct: int = 10) -> list[str]:
        out = []
        for c in self.features:
            s = self.baseline[c]
            if pd.api.types.is_numeric_dtype(s) and s.nunique() >= min_distinct:
                out.append(c)
        return out

    def categorical_columns(self) -> list[str]:
        return [c for c in self.features if not pd.api.types.is_numeric_dtype(self.baseline[c])]

    def class_shares(self) -> pd.Series:
        return self.baseline[LABEL].value_counts(normalize=True)


@dataclasses.dataclass
class Case:
    """One attacked (or clean) current dataset and its ground truth."""

    family: str
    detail: str
    parts: list[pd.DataFrame]  # the current data's files, part-0 .. part-N
    truth: list[np.ndarray]  # per part, True where a row is planted or changed
    columns: set[str] = dataclasses.field(default_factory=set)  # what a finding may name
    sources: set[str] = dataclasses.field(default_factory=set)  # file names a finding may name
    label_changed: np.ndarray | None = None  # per current row (all parts), for cleanlab
    p_value: float | None = None  # exact test of the planted rows against the baseline
    test: str = ""  # which test gave p_value
    # trigger_out_of_range: the same test against the label's share among the baseline's own
    # rows nearest the planted value, where larger (`tail_share`); not the bar's oracle
    p_value_tail: float | None = None
    # targeted_flip, segment_shift, slice_feature_shift: the same test times the choices the
    # attack drew its slice (and shifted column) from (`slice_choices`, `shift_choices`); the
    # trigger tests count their choice of columns only, not of values; not the bar's oracle
    p_value_choice: float | None = None
    layout: str = "folders"  # folders | cumulative (baseline profile + altered old file)
    altered: dict[str, Any] = dataclasses.field(default_factory=dict)


def split_parts(df: pd.DataFrame, marks: np.ndarray) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
    """Cut the current data (helper column `__part` says where a row goes) into its files."""
    parts, truth = [], []
    for i in range(int(df["__part"].max()) + 1):
        sel = (df["__part"] == i).to_numpy()
        parts.append(df.loc[sel].drop(columns="__part").reset_index(drop=True))
        truth.append(marks[sel])
    return parts, truth


def with_parts(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    edges = np.linspace(0, len(out), PARTS + 1).astype(int)
    part = np.zeros(len(out), dtype=np.int64)
    for i in range(PARTS):
        part[edges[i] : edges[i + 1]] = i
    out["__part"] = part
    return out


def insert_rows(
    cur: pd.DataFrame, added: pd.DataFrame, rng: np.random.Generator, part: int = PARTS
) -> tuple[pd.DataFrame, np.ndarray]:
    """Put `added` rows into one part of the current data (by default a new one) at random
    positions."""
    added = added.copy()
    added["__part"] = part
    both = pd.concat([cur, added], ignore_index=True)
    marks = np.r_[np.zeros(len(cur), dtype=bool), np.ones(len(added), dtype=bool)]
    parts = both["__part"].to_numpy()
    # Within the part the added rows are shuffled in; every other part keeps its order.
    secondary = np.where(parts == part, rng.random(len(both)), np.arange(len(both), dtype=float))
    order = np.lexsort((secondary, parts))
    return both.iloc[order].reset_index(drop=True), marks[order]


def make_case(family: str, detail: str, cur: pd.DataFrame, marks: np.ndarray, **kw: Any) -> Case:
    label_changed = kw.pop("label_changed", None)
    parts, truth = split_parts(cur, marks)
    if label_changed is not None:
        order = np.argsort(cur["__part"].to_numpy(), kind="stable")
        label_changed = label_changed[order]
    return Case(family, detail, parts, truth, label_changed=label_changed, **kw)


def rarest_class(split: Split, min_rows: int = 20) -> Any:
    """The attacker's label: the rarest class with at least `min_rows` baseline rows."""
    counts = split.baseline[LABEL].value_counts()
    ok = counts[counts >= min_rows]
    return ok.idxmin() if len(ok) else counts.idxmax()


def top_target(split: Split, rng: np.random.Generator, k: int) -> np.ndarray:
    """Targets an attacker plants for a numeric label: the baseline's top 1% (whole numbers for
    an integer label, such as a grade)."""
    y = split.baseline[LABEL].to_numpy(dtype=float)
    lo, hi = np.quantile(y, 0.99), y.max()
    if pd.api.types.is_integer_dtype(split.baseline[LABEL]):
        return rng.integers(int(np.ceil(lo)), int(hi) + 1, size=k).astype(float)
    return rng.uniform(lo, hi, size=k) if hi > lo else np.full(k, hi)


def as_label(split: Split, y: np.ndarray) -> np.ndarray:
    """Labels back in the label column's own type."""
    return y.astype(split.baseline[LABEL].dtype)


def pick_slice(
    split: Split, rng: np.random.Generator, avoid: str | None = None
) -> tuple[str, str, np.ndarray, np.ndarray]:
    """A slice an attacker targets: a category holding 5-30% of the rows, else the middle 20%
    of a numeric column. Returns its column, a description and its masks (baseline, current)."""
    cands, nums = _slice_candidates(split, avoid)
    if cands:
        c, v = cands[rng.integers(len(cands))]
        return (
            c,
            f"{c} = {v}",
            (split.baseline[c] == v).to_numpy(),
            (split.current[c] == v).to_numpy(),
        )
    c = nums[rng.integers(len(nums))]
    lo, hi = np.quantile(split.baseline[c].dropna(), [0.4, 0.6])
    if hi <= lo:
        hi = np.nextafter(lo, np.inf)

    def inside(s: pd.Series) -> np.ndarray:
        return np.asarray((s >= lo) & (s < hi), dtype=bool)

    return c, f"{lo:g} <= {c} < {hi:g}", inside(split.baseline[c]), inside(split.current[c])


def _slice_candidates(split: Split, avoid: str | None) -> tuple[list[tuple[str, Any]], list[str]]:
    """`pick_slice`'s choices: the categories holding 5-30% of the current rows, and the numeric
    columns it falls back on where there are none."""
    cands = []
    for c in split.categorical_columns():
        if c == avoid:
            continue
        shares = split.current[c].value_counts(normalize=True)
        for v, s in shares.items():
            if 0.05 <= s <= 0.30:
                cands.append((c, v))
    return cands, [c for c in split.numeric_columns() if c != avoid]


def slice_choices(split: Split, avoid: str | None = None) -> int:
    """How many slices `pick_slice` draws from: the factor a test of the one it picked is
    corrected by (Bonferroni) when it is to say what a search over the same choices, not told
    which was picked, could find."""
    cands, nums = _slice_candidates(split, avoid)
    return max(1, len(cands) or len(nums))


def shift_choices(split: Split) -> int:
    """How many (shifted column, slice) pairs `slice_feature_shift` draws from: every numeric
    column, times `pick_slice`'s slices avoiding it (the categories whatever the column, else the
    other numeric columns)."""
    cands, nums = _slice_candidates(split, None)
    return max(1, len(nums) * (len(cands) or len(nums) - 1))


def fisher_greater(a: int, b: int, c: int, d: int) -> float:
    """One-sided Fisher exact test: is a/(a+b) (current) above c/(c+d) (baseline)?"""
    return float(stats.fisher_exact([[a, b], [c, d]], alternative="greater").pvalue)


def clean(split: Split, rng: np.random.Generator, k: int) -> Case:
    cur = with_parts(split.current)
    return make_case("clean", "no attack", cur, np.zeros(len(cur), dtype=bool))


def random_flip(split: Split, rng: np.random.Generator, k: int) -> Case:
    cur = with_parts(split.current)
    idx = rng.choice(len(cur), size=k, replace=False)
    y = cur[LABEL].to_numpy().copy()
    if split.numeric_target:
        # Random targets: each poisoned row gets another baseline row's target.
        y[idx] = rng.choice(split.baseline[LABEL].to_numpy(), size=k)
        p = float(stats.ks_2samp(y, split.baseline[LABEL].to_numpy()).pvalue)
        test = "KS of the targets (asymptotic)"
        detail = "targets replaced by random baseline targets"
    else:
        classes = np.array(sorted(split.baseline[LABEL].unique()))
        for i in idx:
            others = classes[classes != y[i]]
            y[i] = others[rng.integers(len(others))]
        counts = pd.DataFrame(
            {"c": pd.Series(y).value_counts(), "b": split.baseline[LABEL].value_counts()}
        ).fillna(0)
        p = float(stats.chi2_contingency(counts.to_numpy().T)[1])
        test = "chi-square of the label shares"
        detail = "labels flipped to a random other class"
    changed = y != cur[LABEL].to_numpy()
    cur[LABEL] = y.astype(cur[LABEL].dtype)
    return make_case(
        "random_flip",
        detail,
        cur,
        changed,
        columns={LABEL},
        label_changed=changed,
        p_value=p,
        test=test,
    )


def one_way_flip(split: Split, rng: np.random.Generator, k: int) -> Case | None:
    """Rows of the rarest class relabelled as the most common one (hiding positives)."""
    if split.numeric_target:
        return None
    counts = split.current[LABEL].value_counts()
    src_options = counts[counts >= 2 * k]
    if len(src_options) < 2:
        return None
    src = src_options.idxmin()
    dst = counts.idxmax()
    if src == dst:
        return None
    cur = with_parts(split.current)
    pool = np.flatnonzero(cur[LABEL].to_numpy() == src)
    idx = rng.choice(pool, size=k, replace=False)
    y = cur[LABEL].to_numpy().copy()
    y[idx] = dst
    changed = np.zeros(len(cur), dtype=bool)
    changed[idx] = True
    cur[LABEL] = y.astype(cur[LABEL].dtype)
    nb = len(split.baseline)
    bsrc = int((split.baseline[LABEL] == src).sum())
    csrc = int((y == src).sum())
    # Fewer `src` rows now than the baseline's share predicts.
    p = fisher_greater(bsrc, nb - bsrc, csrc, len(y) - csrc)
    return make_case(
        "one_way_flip",
        f"{src} -> {dst}",
        cur,
        changed,
        columns={LABEL},
        label_changed=changed,
        p_value=p,
        test=f"Fisher: share of class {src}",
    )


def targeted_flip(split: Split, rng: np.random.Generator, k: int) -> Case | None:
    """Rows of one slice relabelled to the class rarest in it (numeric: targets raised by
    half a baseline standard deviation)."""
    col, desc, bmask, cmask = pick_slice(split, rng)
    cur = with_parts(split.current)
    y = cur[LABEL].to_numpy().copy()
    if split.numeric_target:
        step = 0.5 * float(split.baseline[LABEL].std())
        if pd.api.types.is_integer_dtype(split.baseline[LABEL]):
            step = max(1.0, round(step))
        y = y.astype(float)
        # Only rows that stay within the baseline's range (a shift, not a value past the range).
        pool = np.flatnonzero(cmask & (y + step <= float(split.baseline[LABEL].max())))
        k = min(k, len(pool))
        if k < 1:
            return None
        idx = rng.choice(pool, size=k, replace=False)
        y[idx] += step
        p = float(
            stats.mannwhitneyu(
                y[cmask], split.baseline[LABEL].to_numpy()[bmask], alternative="greater"
            ).pvalue
        )
        test, detail, family = (
            "Mann-Whitney in the slice",
            f"{desc}: targets +{step:.3g}",
            "segment_shift",
        )
    else:
        inside = split.current.loc[cmask, LABEL].value_counts()
        target = split.class_shares().index.difference([]).tolist()
        shares_in = (inside / inside.sum()).reindex(target).fillna(0)
        t = shares_in.idxmin()
        pool = np.flatnonzero(cmask & (y != t))
        k = min(k, len(pool) // 2)
        if k < 1:
            return None
        idx = rng.choice(pool, size=k, replace=False)
        y[idx] = t
        bt = int((split.baseline.loc[bmask, LABEL] == t).sum())
        ct = int((y[cmask] == t).sum())
        p = fisher_greater(ct, int(cmask.sum()) - ct, bt, int(bmask.sum()) - bt)
        test, detail, family = "Fisher in the slice", f"{desc}: -> {t}", "targeted_flip"
    changed = np.zeros(len(cur), dtype=bool)
    changed[idx] = True
    cur[LABEL] = as_label(split, y)
    return make_case(
        family,
        detail,
        cur,
        changed,
        columns={col},
        label_changed=changed,
        p_value=p,
        test=test,
        p_value_choice=min(1.0, p * slice_choices(split)),
    )


def _set_label_target(
    split: Split, cur: pd.DataFrame, idx: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, float, str]:
    """Give the trigger rows the attacker's label: the rarest class (of 20 rows or more), or a
    target in the baseline's top 1%. Returns the changed mask, the label's baseline share
    and its name."""
    y = cur[LABEL].to_numpy().copy()
    if split.numeric_target:
        y = y.astype(float)
        y[idx] = top_target(split, rng, len(idx))
        share, name = 0.01, "top 1% target"
    else:
        t = rarest_class(split)
        y[idx] = t
        share, name = float(split.class_shares()[t]), f"class {t}"
    changed = y != cur[LABEL].to_numpy()
    cur[LABEL] = as_label(split, y)
    return changed, share, name


def _non_target_rows(split: Split, cur: pd.DataFrame) -> np.ndarray:
    if split.numeric_target:
        y = cur[LABEL].to_numpy(dtype=float)
        return np.flatnonzero(y < np.quantile(split.baseline[LABEL], 0.9))
    return np.flatnonzero(cur[LABEL].to_numpy() != rarest_class(split))


def trigger_out_of_range(split: Split, rng: np.random.Generator, k: int) -> Case:
    """A value just past a numeric feature's range on rows given the attacker's label."""
    nums = split.numeric_columns()
    col = nums[rng.integers(len(nums))]
    both = pd.concat([split.baseline[col], split.current[col]])
    lo, hi = float(both.min()), float(both.max())
    v = hi + max(0.05 * (hi - lo), 1e-9)
    if pd.api.types.is_integer_dtype(split.current[col]):
        v = math.ceil(v)
    cur = with_parts(split.current)
    pool = _non_target_rows(split, cur)
    idx = rng.choice(pool, size=min(k, len(pool)), replace=False)
    k = len(idx)
    cur.loc[idx, col] = v
    changed, share, name = _set_label_target(split, cur, idx, rng)
    marks = np.zeros(len(cur), dtype=bool)
    marks[idx] = True
    p = min(1.0, share**k * len(split.features))
    tail = max(share, tail_share(split, col))
    return make_case(
        "trigger_out_of_range",
        f"{col} = {v:g} -> {name}",
        cur,
        marks,
        columns={col},
        label_changed=changed,
        p_value=p,
        test="label share^k, Bonferroni over columns",
        p_value_tail=min(1.0, tail**k * len(split.features)),
    )


def tail_share(split: Split, col: str) -> float:
    """The attacker's label's share among the baseline rows with the largest values of `col`
    (its top 1%, at least 20 rows), add-one smoothed: how often rows just below a value planted
    past the maximum carry the label. Where the data's own tail carries it (ACS's oldest people
    are not employed, ADBench's anomalies sit at the extremes), rows past the range that carry
    it are no surprise, and the whole label's share overstates the evidence."""
    s = split.baseline[[col, LABEL]].dropna(subset=[col]).sort_values(col, kind="stable")
    n = min(len(s), max(20, math.ceil(0.01 * len(s))))
    y = s[LABEL].to_numpy()[len(s) - n :]
    if split.numeric_target:
        hits = int((y.astype(float) >= np.quantile(split.baseline[LABEL], 0.99)).sum())
    else:
        hits = int((y == rarest_class(split)).sum())
    return (hits + 1) / (n + 2)


def _in_range_values(split: Split, rng: np.random.Generator, n: int) -> dict[str, Any]:
    """n columns and a value of each: a category held by 1-10% of the baseline, or a numeric
    value at a random decile (a value that exists)."""
    cols = list(rng.permutation(split.features))
    out: dict[str, Any] = {}
    for c in cols:
        s = split.baseline[c].dropna()
        if len(s) == 0 or s.nunique() < 2:
            continue
        if pd.api.types.is_numeric_dtype(s):
            q = float(rng.choice([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
            out[c] = s.sort_values().iloc[int(q * (len(s) - 1))]
        else:
            shares = s.value_counts(normalize=True)
            ok = shares[(shares >= 0.01) & (shares <= 0.10)]
            if not len(ok):
                ok = shares[shares < 0.5]
            if not len(ok):
                continue
            out[c] = ok.index[rng.integers(len(ok))]
        if len(out) == n:
            break
    return out


def _combo_mask(df: pd.DataFrame, values: dict[str, Any]) -> np.ndarray:
    m = np.ones(len(df), dtype=bool)
    for c, v in values.items():
        m &= (df[c] == v).to_numpy()
    return m


def trigger_in_range(split: Split, rng: np.random.Generator, k: int) -> Case:
    """Two or three in-range values stamped together on rows that get the attacker's label."""
    values = _in_range_values(split, rng, int(rng.integers(2, 4)))
    cur = with_parts(split.current)
    pool = _non_target_rows(split, cur)
    idx = rng.choice(pool, size=min(k, len(pool)), replace=False)
    for c, v in values.items():
        cur.loc[idx, c] = v
    changed, _, name = _set_label_target(split, cur, idx, rng)
    marks = np.zeros(len(cur), dtype=bool)
    marks[idx] = True
    p = _combo_p(split, cur, values, len(values))
    desc = ", ".join(f"{c} = {v}" for c, v in values.items())
    return make_case(
        "trigger_in_range",
        f"{desc} -> {name}",
        cur,
        marks,
        columns=set(values),
        label_changed=changed,
        p_value=p,
        test="Fisher in the combination, Bonferroni over column sets",
    )


def _is_target(split: Split, y: np.ndarray) -> np.ndarray:
    if split.numeric_target:
        return np.asarray(y.astype(float) >= np.quantile(split.baseline[LABEL], 0.9))
    return np.asarray(y == rarest_class(split))


def _combo_p(split: Split, cur: pd.DataFrame, values: dict[str, Any], n: int) -> float:
    bm = _combo_mask(split.baseline, values)
    cm = _combo_mask(cur, values)
    bt = int(_is_target(split, split.baseline[LABEL].to_numpy()[bm]).sum())
    ct = int(_is_target(split, cur[LABEL].to_numpy()[cm]).sum())
    if bm.sum() >= 5:
        p = fisher_greater(ct, int(cm.sum()) - ct, bt, int(bm.sum()) - bt)
    else:
        # A combination the baseline (almost) never had: its rows' labels against the label's
        # baseline share (add-one smoothed), one-sided binomial.
        yb = _is_target(split, split.baseline[LABEL].to_numpy())
        share = (yb.sum() + 1) / (len(yb) + 2)
        p = float(stats.binomtest(ct, int(cm.sum()), share, alternative="greater").pvalue)
    return min(1.0, p * math.comb(len(split.features), n))


def clean_label_trigger(split: Split, rng: np.random.Generator, k: int) -> Case | None:
    """Two in-range values stamped only on rows that already carry the attacker's label
    (numeric: targets in the baseline's top 10%); no label changes."""
    values = _in_range_values(split, rng, 2)
    cur = with_parts(split.current)
    pool = np.flatnonzero(_is_target(split, cur[LABEL].to_numpy()))
    k = min(k, len(pool))
    if k < 1:
        return None
    idx = rng.choice(pool, size=k, replace=False)
    before = cur.loc[idx, list(values)].copy()
    for c, v in values.items():
        cur.loc[idx, c] = v
    # Planted: the rows the stamp changed (a row may already have held the values).
    marks = np.zeros(len(cur), dtype=bool)
    marks[idx] = (cur.loc[idx, list(values)] != before).any(axis=1).to_numpy()
    p = _combo_p(split, cur, values, 2)
    desc = ", ".join(f"{c} = {v}" for c, v in values.items())
    return make_case(
        "clean_label_trigger",
        desc,
        cur,
        marks,
        columns=set(values),
        p_value=p,
        test="Fisher in the combination, Bonferroni over column pairs",
    )


def fabricated(split: Split, rng: np.random.Generator, k: int) -> Case:
    """New rows whose every value (and label) is drawn from a different real row."""
    cur = with_parts(split.current)
    added = pd.DataFrame(
        {
            c: split.current[c].to_numpy()[rng.integers(len(cur), size=k)]
            for c in split.current.columns
        }
    )
    both, marks = insert_rows(cur, added, rng)
    return make_case(
        "fabricated", "each value from another row", both, marks, sources={f"part-{PARTS}.parquet"}
    )


def duplicates(split: Split, rng: np.random.Generator, k: int) -> Case:
    """Copies of a few rows (five of each) added to one partition."""
    cur = with_parts(split.current)
    m = max(1, k // 5)
    src = rng.choice(len(cur), size=m, replace=False)
    added = split.current.iloc[np.resize(src, k)].reset_index(drop=True)
    both, marks = insert_rows(cur, added, rng)
    # Repeats now against the baseline's rate: one-sided binomial test.
    dup_b = float(split.baseline.duplicated().mean())
    dup_c = int(both.drop(columns="__part").duplicated().sum())
    p = float(
        stats.binomtest(
            dup_c, len(both), max(dup_b, 0.5 / len(split.baseline)), alternative="greater"
        ).pvalue
    )
    return make_case(
        "duplicates",
        f"{k} copies of {m} rows",
        both,
        marks,
        sources={f"part-{PARTS}.parquet"},
        p_value=p,
        test="binomial: repeated rows against the baseline's rate",
    )


def slice_feature_shift(split: Split, rng: np.random.Generator, k: int) -> Case | None:
    """A numeric feature raised by one baseline standard deviation on rows of one slice."""
    nums = split.numeric_columns()
    if not nums:
        return None
    col = nums[rng.integers(len(nums))]
    scol, desc, bmask, cmask = pick_slice(split, rng, avoid=col)
    cur = with_parts(split.current)
    step = float(split.baseline[col].std())
    if pd.api.types.is_integer_dtype(cur[col]):
        step = max(1.0, round(step))
    # Only rows that stay within the baseline's range (a shift, not a value past the range).
    inside = (cur[col] + step <= split.baseline[col].max()).to_numpy()
    pool = np.flatnonzero(cmask & inside)
    k = min(k, len(pool))
    if k < 1:
        return None
    idx = rng.choice(pool, size=k, replace=False)
    integer = pd.api.types.is_integer_dtype(cur[col])
    cur.loc[idx, col] = cur.loc[idx, col] + (int(step) if integer else step)
    marks = np.zeros(len(cur), dtype=bool)
    marks[idx] = True
    p = float(
        stats.mannwhitneyu(
            cur[col].to_numpy()[cmask],
            split.baseline[col].to_numpy()[bmask],
            alternative="greater",
            nan_policy="omit",
        ).pvalue
    )
    return make_case(
        "slice_feature_shift",
        f"{col} +{step:.3g} where {desc}",
        cur,
        marks,
        columns={col, scol},
        p_value=p,
        test="Mann-Whitney in the slice",
        # The shifted column and the slice are both the attack's choice.
        p_value_choice=min(1.0, p * shift_choices(split)),
    )


def outlier_block(split: Split, rng: np.random.Generator, k: int) -> Case:
    """New rows copied from real ones with three numeric features set 4-8 IQRs from the median."""
    nums = split.numeric_columns()
    cols = list(rng.choice(nums, size=min(3, len(nums)), replace=False))
    cur = with_parts(split.current)
    added = split.current.iloc[rng.integers(len(cur), size=k)].reset_index(drop=True)
    past = np.zeros(k, dtype=bool)
    p_row = 0.0
    for c in cols:
        s = split.baseline[c].dropna()
        q1, med, q3 = np.quantile(s, [0.25, 0.5, 0.75])
        iqr = (q3 - q1) or float(s.std()) or 1.0
        v = med + rng.choice([-1, 1], size=k) * rng.uniform(4, 8, size=k) * iqr
        if pd.api.types.is_integer_dtype(added[c]):
            v = np.round(v).astype(added[c].dtype)
        added[c] = v
        past |= (v > s.max()) | (v < s.min())
        p_row += 2.0 / (len(s) + 1)
    both, marks = insert_rows(cur, added, rng)
    # Rows past the baseline's range in these columns: binomial against the chance a clean
    # row has one (about 2/(n+1) per column).
    n_past = int(past.sum())
    p = (
        float(stats.binomtest(n_past, len(both), min(1.0, p_row), alternative="greater").pvalue)
        if n_past
        else None
    )
    return make_case(
        "outlier_block",
        f"{', '.join(cols)} at 4-8 IQR",
        both,
        marks,
        sources={f"part-{PARTS}.parquet"},
        columns=set(cols),
        p_value=p,
        test="binomial: rows past the baseline's range",
    )


def schema_tamper(split: Split, rng: np.random.Generator, k: int) -> Case:
    """A new partition of real rows in which one numeric column is written as text."""
    nums = split.numeric_columns(min_distinct=2)
    col = nums[rng.integers(len(nums))]
    cur = with_parts(split.current)
    added = split.current.iloc[rng.integers(len(cur), size=k)].reset_index(drop=True)
    added[col] = added[col].astype(str)
    added["__part"] = PARTS
    both = pd.concat([cur, added], ignore_index=True)
    marks = np.r_[np.zeros(len(cur), dtype=bool), np.ones(k, dtype=bool)]
    return make_case(
        "schema_tamper",
        f"{col} as text in part-{PARTS}",
        both,
        marks,
        columns={col},
        sources={f"part-{PARTS}.parquet"},
        p_value=0.0,
        test="deterministic",
    )


def replay(split: Split, rng: np.random.Generator, k: int) -> Case:
    """A new partition holding baseline rows again."""
    cur = with_parts(split.current)
    added = split.baseline.iloc[rng.choice(len(split.baseline), size=k, replace=False)].reset_index(
        drop=True
    )
    added["__part"] = PARTS
    both = pd.concat([cur, added], ignore_index=True)
    marks = np.r_[np.zeros(len(cur), dtype=bool), np.ones(k, dtype=bool)]
    # Each replayed row is a baseline row; a fresh row is one with the chance r0 that the clean
    # current rows match baseline rows (smoothed): all k of the file's rows, r0^k.
    seen = set(map(tuple, split.baseline.astype(str).to_numpy()))
    fresh = split.current.astype(str).to_numpy()
    r0 = (sum(tuple(r) in seen for r in fresh) + 1) / (len(fresh) + 2)
    return make_case(
        "replay",
        f"{k} baseline rows as part-{PARTS}",
        both,
        marks,
        sources={f"part-{PARTS}.parquet"},
        p_value=r0**k,
        test="share of the file's rows already in the baseline (r0^k)",
    )


def baseline_altered(split: Split, rng: np.random.Generator, k: int) -> Case | None:
    """A cumulative folder: the baseline's files (profiled when trusted) and the new ones; one
    old file is rewritten in place with k labels changed."""
    old = with_parts(split.baseline)
    sel = np.flatnonzero(old["__part"].to_numpy() == 1)
    k = min(k, len(sel))
    idx = rng.choice(sel, size=k, replace=False)
    altered = old.copy()
    y = altered[LABEL].to_numpy().copy()
    if split.numeric_target:
        y = y.astype(float)
        y[idx] = top_target(split, rng, k)
    else:
        classes = np.array(sorted(split.baseline[LABEL].unique()))
        for i in idx:
            others = classes[classes != y[i]]
            y[i] = others[rng.integers(len(others))]
    altered[LABEL] = as_label(split, y)
    cur = with_parts(split.current)
    marks_new = np.zeros(len(cur), dtype=bool)
    old_parts, _ = split_parts(old, np.zeros(len(old), dtype=bool))
    alt_parts, alt_truth = split_parts(altered, np.isin(np.arange(len(old)), idx))
    new_parts, new_truth = split_parts(cur, marks_new)
    case = Case(
        "baseline_altered",
        f"{k} labels changed in old-1",
        alt_parts + new_parts,
        alt_truth + new_truth,
        sources={"old-1.parquet"},
        p_value=0.0,
        test="deterministic",
        layout="cumulative",
    )
    case.altered = {"old": old_parts}
    return case


FAMILIES: dict[str, Callable[[Split, np.random.Generator, int], Case | None]] = {
    "random_flip": random_flip,
    "one_way_flip": one_way_flip,
    "targeted_flip": targeted_flip,  # segment_shift on a numeric target
    "trigger_out_of_range": trigger_out_of_range,
    "trigger_in_range": trigger_in_range,
    "clean_label_trigger": clean_label_trigger,
    "fabricated": fabricated,
    "duplicates": duplicates,
    "slice_feature_shift": slice_feature_shift,
    "outlier_block": outlier_block,
    "schema_tamper": schema_tamper,
    "replay": replay,
    "baseline_altered": baseline_altered,
}
