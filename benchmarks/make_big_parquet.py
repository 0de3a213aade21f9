"""Write a large synthetic embedding table for the bounded-memory encode benchmark (never commit it).

1,000,000 x 384 float32 vectors (1.5 GB of floats) plus an id and a text column, written in
row groups of 50,000 rows, one chunk at a time, so this script itself stays small in memory.
The vectors are seeded, normalized and low-rank like real sentence embeddings.

    python benchmarks/make_big_parquet.py                       # -> /tmp/embcompress_big.parquet
    embcompress fit /tmp/embcompress_big.parquet --spec PCA128,SQ8 --sample 20000 -o /tmp/big.ecz
    /usr/bin/time -v embcompress encode /tmp/embcompress_big.parquet --codec /tmp/big.ecz \
        -o /tmp/embcompress_big_codes.parquet --drop-input       # "Maximum resident set size"
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm


def chunk(rng, basis, n):
    rank, d = basis.shape
    weights = (rng.standard_normal((n, rank)) / np.sqrt(np.arange(1, rank + 1))).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="/tmp/embcompress_big.parquet")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--row-group", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    basis = rng.standard_normal((64, args.dim)).astype(np.float32)
    schema = pa.schema([("id", pa.int64()), ("text", pa.string()),
                        ("embedding", pa.list_(pa.float32()))])
    tmp = f"{args.output}.tmp-{os.getpid()}"
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer, tqdm(total=args.rows, unit="rows") as bar:
        for start in range(0, args.rows, args.row_group):
            n = min(args.row_group, args.rows - start)
            x = chunk(rng, basis, n)
            embedding = pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * args.dim, args.dim, dtype=np.int32)),
                                                 pa.array(x.reshape(-1)))
            ids = np.arange(start, start + n, dtype=np.int64)
            table = pa.Table.from_arrays([pa.array(ids), pa.array([f"doc {i}" for i in ids]), embedding.cast(
                schema.field("embedding").type)], schema=schema)
            writer.write_table(table, row_group_size=args.row_group)
            bar.update(n)
    os.replace(tmp, args.output)
    print(f"wrote {args.output}: {args.rows:,} x {args.dim} float32 ({args.rows * args.dim * 4 / 1e9:.2f} GB of "
          f"floats), {os.path.getsize(args.output) / 1e9:.2f} GB on disk")


if __name__ == "__main__":
    main()
