#!/usr/bin/env python3
"""Reproduces the extrapolation defect of issue 19 with statsmodels, on the
sets written by `caregap model bench ... --export OUT`:

    /work/venv-models/bin/python models/scripts/extrapolation.py OUT

Fits a Poisson GLM (statsmodels) on the training set twice: with the raw
design caregap used before issue 19 (training-mean imputation + missingness
indicators, nothing else), and with the fixed design (the `log1p_features`
listed in ours.json entered as log1p(x), test values clamped to the training
range). Prints, for each, the test mean Poisson deviance, RMSE, the largest
prediction and the number of predictions above 10 x the largest training
label (caregap's plausibility limit).
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import statsmodels.api as sm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import design, poisson_deviance  # noqa: E402


def raw_design(train, test, feats):
    tr, te = pd.DataFrame(index=train.index), pd.DataFrame(index=test.index)
    for f in feats:
        col = train[f]
        if col.notna().sum() == 0 or (col.nunique() <= 1 and col.notna().all()):
            continue
        m = col.mean()
        if col.nunique() > 1:
            tr[f], te[f] = col.fillna(m), test[f].fillna(m)
        if col.isna().any():
            tr[f + "__missing"] = col.isna().astype(float)
            te[f + "__missing"] = test[f].isna().astype(float)
    return tr, te


def fit(Dtr, Dte, ytr):
    # Drop exactly collinear columns as caregap (and R) do.
    X = sm.add_constant(Dtr.to_numpy(), prepend=True)
    q, r = np.linalg.qr(X)
    keep = np.abs(np.diag(r)) > 1e-8 * np.abs(np.diag(r)).max()
    g = sm.GLM(ytr, X[:, keep], family=sm.families.Poisson()).fit(tol=1e-10, maxiter=200)
    Xte = sm.add_constant(Dte.to_numpy(), prepend=True, has_constant="add")[:, keep]
    with np.errstate(over="ignore"):
        return np.exp(Xte @ g.params)


def main(out):
    train = pd.read_csv(os.path.join(out, "train.csv"))
    test = pd.read_csv(os.path.join(out, "test.csv"))
    ours = json.load(open(os.path.join(out, "ours.json")))
    feats = [c for c in train.columns if c not in ("y", "top10", "mu_true")]
    ytr, yte = train["y"].to_numpy(), test["y"].to_numpy()
    limit = 10 * max(ytr.max(), 1)
    rows = []
    for name, (Dtr, Dte) in [
        ("raw design (before)", raw_design(train, test, feats)),
        ("log1p counts + clamp (after)", design(train, test, feats, set(ours.get("log1p_features") or []))),
    ]:
        mu = fit(Dtr, Dte, ytr)
        rows.append((name, poisson_deviance(yte, mu), float(np.sqrt(np.mean((yte - mu) ** 2))),
                     float(np.max(mu)), int(np.sum(~(mu <= limit)))))
    print(f"mean baseline: deviance {poisson_deviance(yte, np.full(len(yte), ytr.mean())):.4f}, "
          f"RMSE {float(np.sqrt(np.mean((yte - ytr.mean()) ** 2))):.4f}; plausible limit {limit}")
    for r in rows:
        print(f"statsmodels Poisson GLM, {r[0]:<30} deviance {r[1]:.4f}  RMSE {r[2]:.4f}  "
              f"max prediction {r[3]:.4e}  above limit {r[4]}")


if __name__ == "__main__":
    main(sys.argv[1])
