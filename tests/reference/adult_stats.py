"""Reference statistics for datasets/real/adult_sample.csv, computed with pandas.

Run once in a scratch venv (pandas is never a dependency of poisonscan):
    python tests/reference/adult_stats.py > tests/fixtures/adult_sample_reference.json
"""
import json
import pandas as pd

df = pd.read_csv("datasets/real/adult_sample.csv", keep_default_na=False, na_values=[""])
out = {"rows": len(df), "columns": {}}
for c in df.columns:
    s = df[c]
    col = {"nulls": int(s.isna().sum()), "distinct": int(s.nunique(dropna=True))}
    if pd.api.types.is_numeric_dtype(s):
        col.update(
            min=float(s.min()), max=float(s.max()), mean=float(s.mean()), std=float(s.std(ddof=1))
        )
    out["columns"][c] = col
out["label_counts"] = {str(k): int(v) for k, v in df["label"].value_counts().sort_index().items()}
features = [c for c in df.columns if c != "label"]
out["duplicate_rows"] = int(df.duplicated(keep="first").sum())
g = df.groupby(features, dropna=False)["label"].nunique()
out["conflicting_groups"] = int((g > 1).sum())
print(json.dumps(out, indent=1, sort_keys=True))
