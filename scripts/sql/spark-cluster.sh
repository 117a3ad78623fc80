#!/usr/bin/env bash
# A local Spark standalone cluster for the Spark dialect: one master and two
# workers (1 core and 4 GiB each) on 127.0.0.1, from the pyspark of the SQL venv
# (`scripts/sql/setup-venv.sh --spark`; Java from Debian: openjdk-17-jre-headless).
#
#   scripts/sql/spark-cluster.sh start     # prints the master URL, spark://127.0.0.1:7077
#   scripts/sql/spark-cluster.sh stop
#
# Run a script on it: scripts/sql/run_sql.py --engine spark --master spark://127.0.0.1:7077 SCRIPT
# On an existing cluster, the same: --master spark://HOST:7077 (or spark-submit
# a job that runs the script through spark.sql; see docs/sql.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CAREGAP_SQL_VENV:-$root/.venv-sql}"
state="${CAREGAP_SPARK_STATE:-$root/target/spark-cluster}"
port=7077
spark_home=$("$venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME="$spark_home" SPARK_LOCAL_IP=127.0.0.1
class="$spark_home/bin/spark-class"

start() {
    mkdir -p "$state"
    nohup "$class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$port" \
        --webui-port 18080 >"$state/master.log" 2>&1 &
    echo $! >"$state/master.pid"
    for _ in $(seq 1 120); do
        grep -q "I have been elected leader\|Starting Spark master" "$state/master.log" 2>/dev/null && break
        sleep 0.5
    done
    for w in 1 2; do
        nohup "$class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 --memory 4g \
            --webui-port $((18080 + w)) --work-dir "$state/work$w" "spark://127.0.0.1:$port" \
            >"$state/worker$w.log" 2>&1 &
        echo $! >"$state/worker$w.pid"
    done
    for _ in $(seq 1 120); do
        [ "$(grep -l "Successfully registered with master" "$state"/worker*.log 2>/dev/null | wc -l)" -eq 2 ] && break
        sleep 0.5
    done
    echo "spark://127.0.0.1:$port"
}

stop() {
    for f in "$state"/*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
