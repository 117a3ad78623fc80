#!/usr/bin/env bash
# Times our GBM against LightGBM's on a `caregap model bench --export`
# directory: alternately, 3 runs each, 2 threads each, same configuration
# (255 bins, 31 leaves, learning rate 0.1, min 20 per leaf, poisson max delta
# step 0.7, 100 rounds). Prints one JSON line per run: wall and CPU seconds of
# the fit (loading excluded) and the test metric.
#
#   models/scripts/gbm_speed.sh EXPORT_DIR [RUNS] [ROUNDS] [SEED] [OBJECTIVE]
#
# OBJECTIVE: poisson (default; labels `y`, metric the test deviance) or
# logistic (labels `top10`, LightGBM's `binary`; metric the test AUC).
#
# SEED (default 0) seeds both sides; it picks the 200,000-value sample that
# the bins are learned from, so the deviance moves a little with it (compare
# means over a few seeds, not one).
#
# Env: PYTHON (default /work/venv-models/bin/python, needs lightgbm, numpy,
# pandas), CARGO_TARGET_DIR (where our example binary is built).
set -euo pipefail
dir=${1:?usage: gbm_speed.sh EXPORT_DIR [RUNS] [ROUNDS]}
runs=${2:-3}
rounds=${3:-100}
seed=${4:-0}
objective=${5:-poisson}
python=${PYTHON:-/work/venv-models/bin/python}
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

(cd "$root" && cargo build --release -q -p caregap-models --example gbm_fit)
ours="$target/release/examples/gbm_fit"

lgb_script=$(mktemp --suffix .py)
trap 'rm -f "$lgb_script"' EXIT
cat >"$lgb_script" <<'PY'
import sys, time, json
import lightgbm as lgb, numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score
out, rounds, seed, objective = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
train = pd.read_csv(f"{out}/train.csv"); test = pd.read_csv(f"{out}/test.csv")
feats = [c for c in train.columns if c not in ("y", "top10", "mu_true")]
Xtr, Xte = train[feats].to_numpy(), test[feats].to_numpy()
label = "y" if objective == "poisson" else "top10"
ytr, yte = train[label].to_numpy(), test[label].to_numpy()
def dev(y, mu):
    t = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0)
    return float(np.mean(2 * (t - (y - mu))))
p = dict(num_threads=2, max_bin=255, num_leaves=31, learning_rate=0.1,
         min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0,
         verbose=-1, seed=seed, deterministic=True)
if objective == "poisson":
    p.update(objective="poisson", poisson_max_delta_step=0.7)
else:
    p.update(objective="binary")
t, c = time.perf_counter(), time.process_time()
m = lgb.train(p, lgb.Dataset(Xtr, ytr), num_boost_round=rounds)
wall, cpu = time.perf_counter() - t, time.process_time() - c
metric = dev(yte, m.predict(Xte)) if objective == "poisson" else float(roc_auc_score(yte, m.predict(Xte)))
print(json.dumps(dict(side="lightgbm", objective=p["objective"], seed=seed, wall=round(wall, 3),
                      cpu=round(cpu, 3), metric=round(metric, 6))), flush=True)
PY

echo "# $(date -u +%FT%TZ) $(uname -n), load: $(cut -d' ' -f1-3 /proc/loadavg), export: $dir, rounds: $rounds, seed: $seed, objective: $objective"
for i in $(seq 1 "$runs"); do
    RAYON_NUM_THREADS=2 "$ours" "$dir" "$rounds" "$seed" "$objective"
    OMP_NUM_THREADS=2 "$python" "$lgb_script" "$dir" "$rounds" "$seed" "$objective"
    echo "# after run $i, load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
