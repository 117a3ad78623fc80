#!/usr/bin/env python3
"""Runs a caregap SQL script (used by tests/sql_*.rs and benches/compare.sh).

    run_sql.py [--engine duckdb|postgres|spark] [--threads N] [--setup FILE]
               [--parquet OUT] [--time] SCRIPT

--engine       duckdb (default; the `duckdb` package), postgres (psycopg; the
               server from $CAREGAP_PG_DSN, e.g. "host=/tmp/pgsock port=5432
               user=postgres"; temporary tables only), or spark (a local
               pyspark session).
--setup FILE   SQL statements run first (e.g. CREATE TEMP TABLE ... for test
               data), separated by ";" at line ends.
--parquet OUT  write the result to Parquet instead of printing it: DuckDB a
               file (COPY ... TO), Spark a folder of parts.
--time         print the query's wall time in seconds to stderr (`seconds=<s>`).
--master URL   spark only: the cluster to run on (default local[THREADS]), e.g.
               spark://127.0.0.1:7077 from scripts/sql/spark-cluster.sh.

Without --parquet the result rows are printed as one JSON array of arrays.
"""
import argparse
import json
import math
import os
import sys
import time


def cell(v):
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # 'inf', '-inf', 'nan': JSON has no such numbers
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if type(v).__name__ == "Decimal":
        return float(v)
    return v


def statements(text):
    """Splits a setup file at semicolons that end a line."""
    out, cur = [], []
    for line in text.splitlines():
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur).rstrip().rstrip(";"))
            cur = []
    if "".join(cur).strip():
        out.append("\n".join(cur))
    return [s for s in out if s.strip()]


def run_duckdb(args, setup, query):
    import duckdb

    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    if setup:
        con.execute(setup)
    start = time.perf_counter()
    if args.parquet:
        con.execute(f"COPY ({query}) TO '{args.parquet}' (FORMAT parquet)")
        rows = None
    else:
        rows = con.execute(query).fetchall()
    return rows, time.perf_counter() - start


def run_postgres(args, setup, query):
    import psycopg

    dsn = os.environ.get("CAREGAP_PG_DSN")
    if not dsn:
        sys.exit("CAREGAP_PG_DSN is not set (e.g. 'host=/tmp/pgsock port=5432 user=postgres')")
    with psycopg.connect(dsn, autocommit=True) as con:
        for s in statements(setup or ""):
            con.execute(s)
        start = time.perf_counter()
        rows = con.execute(query).fetchall()
        return rows, time.perf_counter() - start


def run_spark(args, setup, query):
    from pyspark.sql import SparkSession

    master = args.master or f"local[{args.threads or 2}]"
    builder = SparkSession.builder.master(master).appName("caregap-sql")
    builder = builder.config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for s in statements(setup or ""):
        spark.sql(s)
    start = time.perf_counter()
    if args.parquet:
        spark.sql(query).write.mode("overwrite").parquet(args.parquet)
        rows = None
    else:
        rows = [tuple(r) for r in spark.sql(query).collect()]
    elapsed = time.perf_counter() - start
    spark.stop()
    return rows, elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("--engine", default="duckdb", choices=["duckdb", "postgres", "spark"])
    ap.add_argument("--threads", type=int)
    ap.add_argument("--master", help="spark: the master URL (default local[THREADS])")
    ap.add_argument("--setup")
    ap.add_argument("--parquet")
    ap.add_argument("--time", action="store_true")
    args = ap.parse_args()
    setup = None
    if args.setup:
        with open(args.setup, encoding="utf-8") as f:
            setup = f.read()
    with open(args.script, encoding="utf-8") as f:
        query = f.read().strip().rstrip(";")
    if args.parquet and args.engine == "postgres":
        sys.exit("--parquet works with --engine duckdb or spark")
    run = {"duckdb": run_duckdb, "postgres": run_postgres, "spark": run_spark}[args.engine]
    rows, elapsed = run(args, setup, query)
    if args.time:
        print(f"seconds={elapsed:.3f}", file=sys.stderr)
    if rows is not None:
        json.dump([[cell(v) for v in r] for r in rows], sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
