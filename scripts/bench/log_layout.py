"""Bytes stored and bytes an Athena query must read: gzip JSON lines by day (the old layout) vs
Parquet partitioned by source_type and day (the stack's layout), on one synthetic day written by
`examples/log_layout.rs`. Run: make bench-log-layout.

The query measured: yesterday's timeouts and crashes by function,
    SELECT function_name, type, count(*) FROM log_records
    WHERE dt = '<yesterday>' AND source_type = 'lambda'
      AND type IN ('platform.timeout', 'runtime.crash', 'function.unhandled')
    GROUP BY 1, 2
JSON-gzip: Athena reads every byte of the day's objects (one partition per day, no columns).
Parquet: it reads the footer and the column chunks of `type` and `function_name` in the
source_type=lambda partition only. Both codecs Firehose offers (Snappy, GZIP) are written, with
the Glue table's schema, one file per partition (Firehose writes several a day, each with its own
footer: the figure for Parquet is a lower bound by those few KB).
"""
import gzip
import json
import os
import sys
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq

REPORT = pa.struct([(n, pa.float64()) for n in (
    "duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb", "init_duration_ms")])
SCHEMA = pa.schema([
    ("timestamp", pa.string()), ("event_id", pa.string()), ("account", pa.string()),
    ("region", pa.string()), ("log_group", pa.string()), ("log_stream", pa.string()),
    ("function_name", pa.string()), ("type", pa.string()), ("level", pa.string()),
    ("request_id", pa.string()), ("error_type", pa.string()), ("message", pa.string()),
    ("summary", pa.string()), ("fields", pa.string()), ("report", REPORT),
    ("redactions", pa.int32()), ("truncated", pa.bool_()),
])
QUERY_COLUMNS = ("type", "function_name")


def mib(n):
    return f"{n / 1048576:,.2f} MiB"


def main(folder):
    raw_json = open(os.path.join(folder, "records-json.ndjson"), "rb").read()
    json_gz = len(gzip.compress(raw_json, compresslevel=6))

    by_source = defaultdict(list)
    with open(os.path.join(folder, "records-parquet.ndjson")) as f:
        for line in f:
            r = json.loads(line)
            by_source[r.pop("source_type")].append(r)
    tables = {s: pa.Table.from_pylist(r, schema=SCHEMA) for s, r in sorted(by_source.items())}
    rows = sum(t.num_rows for t in tables.values())
    print(f"one day: {rows:,} records ({tables['lambda'].num_rows:,} from Lambda), "
          f"{mib(len(raw_json))} as JSON lines")
    print(f"{'layout':40} {'stored':>12} {'query reads':>12}")
    print(f"{'JSON lines, gzip, by dt':40} {mib(json_gz):>12} {mib(json_gz):>12}")
    for codec in ("snappy", "gzip"):
        stored = read = 0
        for source, table in tables.items():
            path = os.path.join(folder, f"source_type={source}.{codec}.parquet")
            pq.write_table(table, path, compression=codec)
            stored += os.path.getsize(path)
            if source == "lambda":
                meta = pq.ParquetFile(path).metadata
                read = meta.serialized_size + sum(
                    meta.row_group(g).column(c).total_compressed_size
                    for g in range(meta.num_row_groups)
                    for c in range(meta.num_columns)
                    if meta.row_group(g).column(c).path_in_schema in QUERY_COLUMNS)
        label = f"Parquet ({codec}), by source_type+dt"
        print(f"{label:40} {mib(stored):>12} {mib(read):>12}"
              f"   stored {stored / json_gz:.2f}x JSON-gzip, query reads 1/{json_gz / read:.0f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/log-layout")
