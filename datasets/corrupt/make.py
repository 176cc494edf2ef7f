"""Makes the damaged and hostile files of this folder (pyarrow; run from the repository's root:
`python datasets/corrupt/make.py`). What poisonscan says of each is pinned in `expected.tsv`
(tests/trust.rs: a file without a line there fails the suite)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
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
    parquet_damage()
    csv_cases()


def damaged(name: str, change: Callable[[bytearray], bytes | bytearray]) -> None:
    data = bytearray((HERE / "clean.parquet").read_bytes())
    (HERE / name).write_bytes(bytes(change(data)))


def parquet_damage() -> None:
    (HERE / "zero_length.parquet").write_bytes(b"")
    damaged("wrong_magic.parquet", lambda d: b"PAR0" + d[4:])
    damaged("footer_truncated.parquet", lambda d: d[:-10])
    damaged("footer_length_huge.parquet", lambda d: d[:-8] + b"\xf0\xff\xff\x7f" + d[-4:])

    def flip_footer(d: bytearray) -> bytearray:
        n = int.from_bytes(d[-8:-4], "little")
        d[len(d) - 8 - n // 2] ^= 0xFF
        return d

    damaged("footer_bit_flip.parquet", flip_footer)
    meta = pq.ParquetFile(HERE / "clean.parquet").metadata
    offset = meta.row_group(0).column(1).data_page_offset

    def flip_page_header(d: bytearray) -> bytearray:
        d[offset + 1] ^= 0xFF
        return d

    damaged("page_header_bit_flip.parquet", flip_page_header)
    damaged("cut_in_a_page.parquet", lambda d: d[: offset + 100])
    nested = pa.table(
        {
            "x": pa.array([1, 2, 3]),
            "s": pa.array([{"a": 1}, {"a": 2}, {"a": 3}]),
            "label": pa.array([0, 1, 0]),
        }
    )
    pq.write_table(nested, HERE / "struct_column.parquet")
    listed = pa.table(
        {"x": pa.array([1, 2, 3]), "l": pa.array([[1], [2, 3], []]), "label": pa.array([0, 1, 0])}
    )
    pq.write_table(listed, HERE / "list_column.parquet")
    twice = pa.Table.from_arrays(
        [pa.array([1, 2, 3]), pa.array([4, 5, 6]), pa.array([0, 1, 0])], names=["x", "x", "label"]
    )
    pq.write_table(twice, HERE / "duplicate_column.parquet")


def csv_cases() -> None:
    rows = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40))
    cases: dict[str, bytes] = {
        "zero_length.csv": b"",
        "header_only.csv": b"x,c,label\n",
        "only_newlines.csv": b"\n\n\n",
        "ragged_short.csv": ("x,c,label\n" + rows + "7,1\n").encode(),
        "ragged_long.csv": ("x,c,label\n" + rows + "7,1,0,9\n").encode(),
        "unterminated_quote.csv": ("x,c,label\n" + rows + '8,"open,1\n9,2,0\n').encode(),
        "invalid_utf8_header.csv": b"x,\xff\xfe,label\n" + rows.encode(),
        "invalid_utf8_value.csv": b"x,c,label\n" + rows.encode() + b"5,\xc3\x28,1\n",
        # A valid UTF-8 first line of 1 MiB: one very long column name.
        "long_header.csv": ("x," + "é" * (1 << 19) + ",label\n" + rows).encode(),
        "bom.csv": b"\xef\xbb\xbfx,c,label\n" + rows.encode(),
        "mixed_delimiters.csv": ("x,c,label\n" + rows.replace(",", ";")).encode(),
        "empty_header.csv": (",,\n" + rows).encode(),
        "duplicate_header.csv": ("x,x,label\n" + rows).encode(),
        "nul_bytes.csv": b"x,c,label\n" + rows.encode() + b"1,\x00\x00,0\n",
        "crlf.csv": ("x,c,label\r\n" + rows.replace("\n", "\r\n")).encode(),
        "nan_and_inf.csv": ("x,c,label\n" + rows + "NaN,1,0\ninf,2,1\n-inf,0,0\n").encode(),
        "binary.csv": bytes(range(256)) * 8,
    }
    for name, data in cases.items():
        (HERE / name).write_bytes(data)
    (HERE / "truncated.csv.gz").write_bytes(gzip.compress(("x,c,label\n" + rows).encode())[:60])


if __name__ == "__main__":
    main()
