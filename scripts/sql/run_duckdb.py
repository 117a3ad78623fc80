#!/usr/bin/env python3
"""Runs a caregap SQL script on DuckDB (used by tests/sql_*.rs and bench/compare.sh).

    run_duckdb.py [--threads N] [--setup FILE] [--json | --parquet OUT] [--time] SCRIPT

--setup FILE   SQL statements run first (e.g. CREATE TABLE ... for test data).
--json         print the result rows as one JSON array of arrays (default).
--parquet OUT  write the result to a Parquet file instead (COPY ... TO).
--time         print the query's wall time in seconds to stderr as `seconds=<s>`.
"""
import argparse
import json
import math
import sys
import time

import duckdb


def cell(v):
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # 'inf', '-inf', 'nan': JSON has no such numbers
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--setup")
    ap.add_argument("--parquet")
    ap.add_argument("--time", action="store_true")
    args = ap.parse_args()
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    if args.setup:
        with open(args.setup, encoding="utf-8") as f:
            con.execute(f.read())
    with open(args.script, encoding="utf-8") as f:
        query = f.read().strip().rstrip(";")
    start = time.perf_counter()
    if args.parquet:
        con.execute(f"COPY ({query}) TO '{args.parquet}' (FORMAT parquet)")
    else:
        rows = con.execute(query).fetchall()
    elapsed = time.perf_counter() - start
    if args.time:
        print(f"seconds={elapsed:.3f}", file=sys.stderr)
    if not args.parquet:
        json.dump([[cell(v) for v in r] for r in rows], sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
