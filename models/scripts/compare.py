#!/usr/bin/env python3
"""Side-by-side comparison of caregap's models with LightGBM, statsmodels and
scikit-learn on the SAME data (written by caregap), from either source:

    # a generated population and the library's [[feature]] columns
    caregap model bench --data POP --criteria criteria --as-of DATE --out B --export OUT
    # or the simulated table of caregap-models
    cargo run --release -p caregap-models --example compare -- OUT [N_ROWS] [ROUNDS]

    /work/venv-models/bin/python models/scripts/compare.py OUT

OUT holds train.csv / test.csv (features, missing = empty cell; y = next-year
visits; top10 = in the top 10 % of y; test also mu_true, empty where unknown)
and ours.json (caregap's results). Prints one table and writes
OUT/comparison.json. Missing feature values: LightGBM handles NaN natively (as
caregap's GBM does); statsmodels and scikit-learn get caregap's linear design
(training-mean imputation + missingness indicators, see design()).

LightGBM runs with caregap's GBM configuration: 2 threads, max_bin 255,
num_leaves 31, learning_rate 0.1, min_data_in_leaf 20, min_sum_hessian 1e-3,
lambda_l2 0, poisson_max_delta_step 0.7, no bagging, the same number of rounds;
its training time includes dataset construction (binning), as ours does.
"""
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def poisson_deviance(y, mu):
    t = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0)
    return float(np.mean(2 * (t - (y - mu))))


def design(train, test, feats, log1p=()):
    """caregap's design: training-mean imputation + missingness indicator;
    test values clamped to the training range; `log1p` features (unbounded
    counts) enter as log1p(x), named `log1p(<name>)`."""
    tr, te = pd.DataFrame(index=train.index), pd.DataFrame(index=test.index)
    for f in feats:
        col = train[f]
        if col.notna().sum() == 0 or (col.nunique() <= 1 and col.notna().all()):
            continue
        tcol = test[f].clip(col.min(), col.max())
        name = f
        if f in log1p:
            col, tcol, name = np.log1p(col), np.log1p(tcol), f"log1p({f})"
        m = col.mean()
        if col.nunique() > 1:
            tr[name], te[name] = col.fillna(m), tcol.fillna(m)
        if col.isna().any():
            tr[f + "__missing"] = col.isna().astype(float)
            te[f + "__missing"] = test[f].isna().astype(float)
    return tr, te


def main(out):
    train = pd.read_csv(os.path.join(out, "train.csv"))
    test = pd.read_csv(os.path.join(out, "test.csv"))
    ours = json.load(open(os.path.join(out, "ours.json")))
    rounds = ours["config"]["rounds"]
    feats = [c for c in train.columns if c not in ("y", "top10", "mu_true")]
    Xtr, Xte = train[feats].to_numpy(), test[feats].to_numpy()
    ytr, yte = train["y"].to_numpy(), test["y"].to_numpy()
    ttr, tte = train["top10"].to_numpy(), test["top10"].to_numpy()
    ybar = ytr.mean()
    null = poisson_deviance(yte, np.full_like(yte, ybar, dtype=float))
    res = {}

    params = dict(num_threads=2, max_bin=255, num_leaves=31, learning_rate=0.1, min_data_in_leaf=20,
                  min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0, poisson_max_delta_step=0.7,
                  verbose=-1, seed=0, deterministic=True, force_col_wise=False)
    t, c = time.perf_counter(), time.process_time()
    m = lgb.train(dict(params, objective="poisson"), lgb.Dataset(Xtr, ytr), num_boost_round=rounds)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    mu = m.predict(Xte)
    res["lightgbm_poisson"] = dict(train_seconds=secs, cpu_seconds=cpu, deviance=poisson_deviance(yte, mu))
    print("lightgbm_poisson", res["lightgbm_poisson"], flush=True)

    t, c = time.perf_counter(), time.process_time()
    m = lgb.train(dict(params, objective="binary"), lgb.Dataset(Xtr, ttr), num_boost_round=rounds)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    res["lightgbm_binary"] = dict(train_seconds=secs, cpu_seconds=cpu, auc=float(roc_auc_score(tte, m.predict(Xte))))
    print("lightgbm_binary", res["lightgbm_binary"], flush=True)

    Dtr, Dte = design(train, test, feats, set(ours.get("log1p_features") or []))
    # Use caregap's design columns (it drops aliased columns, as R's glm does).
    keep = [c["name"] for c in ours["glm_poisson_coefficients"][1:]]
    Dtr, Dte = Dtr[keep], Dte[keep]
    t = time.perf_counter()
    g = sm.GLM(ytr, sm.add_constant(Dtr.to_numpy(), prepend=True), family=sm.families.Poisson()).fit(tol=1e-12)
    secs = time.perf_counter() - t
    mu = g.predict(sm.add_constant(Dte.to_numpy(), prepend=True, has_constant="add"))
    ours_coef = np.array([c["estimate"] for c in ours["glm_poisson_coefficients"]])
    rel = np.max(np.abs(ours_coef - g.params) / np.maximum(np.abs(g.params), 1e-12))
    res["statsmodels_poisson_glm"] = dict(train_seconds=secs, deviance=poisson_deviance(yte, mu),
                                          max_rel_coef_diff_vs_ours=float(rel))

    mean, sd = Dtr.mean(), Dtr.std(ddof=0).replace(0, 1)
    t = time.perf_counter()
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(((Dtr - mean) / sd).to_numpy(), ttr)
    secs = time.perf_counter() - t
    p = lr.predict_proba(((Dte - mean) / sd).to_numpy())[:, 1]
    res["sklearn_logistic"] = dict(train_seconds=secs, auc=float(roc_auc_score(tte, p)))
    if ours.get("logistic_coefficients"):
        # caregap's IRLS logistic: same penalty as C=1 on standardised columns;
        # compare on the original scale.
        lc = {c["name"]: c["estimate"] for c in ours["logistic_coefficients"]}
        sk = dict(zip(Dtr.columns, lr.coef_[0] / sd.to_numpy()))
        sk["intercept"] = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean.to_numpy() / sd.to_numpy()))
        rel = max(abs(lc[k] - v) / max(abs(v), 1e-12) for k, v in sk.items() if k in lc)
        res["sklearn_logistic"]["max_rel_coef_diff_vs_ours"] = float(rel)
    if "mu_true" in test:
        known = test["mu_true"].notna().to_numpy()
        res["oracle_deviance"] = poisson_deviance(yte[known], test["mu_true"].to_numpy()[known])
        res["oracle_rows"] = int(known.sum())

    def ours_dev(k):
        return ours[k]["report"]["deviance"], ours[k]["train_seconds"]

    def ours_auc(k):
        return ours[k]["report"]["auc"], ours[k]["train_seconds"]

    def cpu(r):
        v = r.get("cpu_seconds")
        return float("nan") if v is None else v

    rows = [
        ("GBM Poisson: test deviance", *ours_dev("gbm_poisson"), res["lightgbm_poisson"]["deviance"],
         res["lightgbm_poisson"]["train_seconds"], "LightGBM poisson"),
        ("GBM logistic: test AUC", *ours_auc("gbm_logistic"), res["lightgbm_binary"]["auc"],
         res["lightgbm_binary"]["train_seconds"], "LightGBM binary"),
        ("Poisson GLM: test deviance", *ours_dev("glm_poisson"), res["statsmodels_poisson_glm"]["deviance"],
         res["statsmodels_poisson_glm"]["train_seconds"], "statsmodels GLM"),
        ("Logistic: test AUC", *ours_auc("logistic"), res["sklearn_logistic"]["auc"],
         res["sklearn_logistic"]["train_seconds"], "scikit-learn"),
    ]
    print(f"source: {ours['config'].get('source', 'caregap-models compare example (simulated)')}")
    print(f"rows: train {len(ytr)}, test {len(yte)}, features {len(feats)}, rounds {rounds}, "
          f"caregap threads {ours['config']['threads']}")
    print(f"{'metric':<28} {'caregap':>10} {'time s':>8}   {'reference':>10} {'time s':>8}   reference")
    for name, a, ta, b, tb, who in rows:
        print(f"{name:<28} {a:>10.5f} {ta:>8.2f}   {b:>10.5f} {tb:>8.2f}   {who}")
    print(f"GBM CPU seconds (user+sys, robust to a loaded machine): caregap poisson "
          f"{cpu(ours['gbm_poisson']):.2f} vs LightGBM {res['lightgbm_poisson']['cpu_seconds']:.2f}; "
          f"caregap logistic {cpu(ours['gbm_logistic']):.2f} vs LightGBM "
          f"{res['lightgbm_binary']['cpu_seconds']:.2f}")
    oracle = res.get("oracle_deviance")
    print(f"oracle deviance {'n/a' if oracle is None else f'{oracle:.5f}'} "
          f"({res.get('oracle_rows', 0)} rows with mu_true); null (train mean) deviance {null:.5f}")
    print(f"Poisson GLM max relative coefficient difference vs statsmodels: "
          f"{res['statsmodels_poisson_glm']['max_rel_coef_diff_vs_ours']:.2e}")
    if "max_rel_coef_diff_vs_ours" in res["sklearn_logistic"]:
        print(f"Logistic max relative coefficient difference vs scikit-learn: "
              f"{res['sklearn_logistic']['max_rel_coef_diff_vs_ours']:.2e}")
    print("other caregap models (test deviance / AUC):")
    for k in ("mean", "age_sex", "last_year", "glm_nb2", "forest", "forest_classifier"):
        if k not in ours:
            continue
        r = ours[k]["report"]
        v = r.get("deviance")
        v = r.get("auc") if v is None else v
        v = float("nan") if v is None else v
        print(f"  {k:<18} {v:.5f}  ({ours[k]['train_seconds'] or float('nan'):.2f} s)")
    json.dump(res, open(os.path.join(out, "comparison.json"), "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/caregap-compare")
