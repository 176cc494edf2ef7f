"""Makes the damaged Parquet files of this folder (pyarrow; run from the repository's root:
`python datasets/corrupt/make.py`). Each file's purpose and the message poisonscan gives for it
are pinned in tests/trust.rs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
ROWS = 2000


def table() -> pa.Table:
    return pa.table(
        {
            "x": pa.array(range(ROWS), pa.int64()),
            "y": pa.array([i * 0.5 for i in range(ROWS)], pa.float64()),
            "label": pa.array([i % 2 for i in range(ROWS)], pa.int64()),
        }
    )


def write(path: Path, checksums: bool) -> None:
    # One plain, uncompressed data page per column chunk: a byte's place is known.
    pq.write_table(
        table(),
        path,
        compression="NONE",
        use_dictionary=False,
        write_statistics=False,
        data_page_size=1 << 20,
        write_page_checksum=checksums,
    )


def flip(path: Path, column: str, row: int, bit: int) -> None:
    """Flip `bit` of `row`'s 8-byte value of `column` (required, plain: the page's last bytes)."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    chunk = meta.row_group(0).column(names.index(column))
    end = chunk.data_page_offset + chunk.total_compressed_size
    at = end - 8 * (ROWS - row) + bit // 8
    data = bytearray(path.read_bytes())
    data[at] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


def main() -> None:
    write(HERE / "checksummed.parquet", checksums=True)
    damaged = HERE / "checksum_mismatch.parquet"
    write(damaged, checksums=True)
    flip(damaged, "y", 1500, 52)
    flipped = HERE / "label_bit_flip_no_checksum.parquet"
    write(flipped, checksums=False)
    flip(flipped, "label", 101, 15)  # label 1 becomes 32769
    far = HERE / "value_bit_flip_no_checksum.parquet"
    write(far, checksums=False)
    flip(far, "y", 1200, 61)  # 600.0 becomes 600 * 2**512
    write(HERE / "clean.parquet", checksums=False)


if __name__ == "__main__":
    main()
