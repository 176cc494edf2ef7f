"""The real sets the evaluations read: one Parquet file per folder of the real-data folder
(default ../shared/datasets/real), shared by benches/clean_splits.py and the detection benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def real_set_files(data: Path, wanted: set[str]) -> Iterator[tuple[str, Path]]:
    """Each set's name (its folder) and its first Parquet file, in name order; `wanted` (if not
    empty) keeps those named. The `reference` folder holds published numbers, not a set."""
    for folder in sorted(data.iterdir()):
        if not folder.is_dir() or folder.name == "reference":
            continue
        if wanted and folder.name not in wanted:
            continue
        files = sorted(folder.glob("*.parquet"))
        if files:
            yield folder.name, files[0]
