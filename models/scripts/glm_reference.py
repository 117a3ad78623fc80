#!/usr/bin/env python3
"""Generates the small GLM test data set and statsmodels/scikit-learn reference
numbers used by models/tests/model_glm.rs.

Run from the repository root with the comparison venv:
    /work/venv-models/bin/python models/scripts/glm_reference.py
Writes models/tests/data/glm_small.csv and models/tests/data/glm_reference.json.
The design replicates caregap's missing-value handling: a feature with missing
values is mean-imputed (training mean) and gets a `<name>__missing` indicator.
"""
import json
import os

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data")

rng = np.random.default_rng(20261123)
n = 600
age = rng.uniform(0, 95, n).round(1)
sex = rng.integers(0, 2, n).astype(float)
chronic = (rng.uniform(size=n) < 0.25 + 0.004 * age).astype(float)
prev = rng.poisson(1.0 + 0.03 * age)
bmi = rng.normal(26, 4, n).round(1)
bmi_missing = rng.uniform(size=n) < 0.2
frailty = rng.gamma(2.0, 0.5, n)  # mean 1, var 0.5 -> NB2 alpha 0.5
eta = -1.0 + 0.012 * age + 0.15 * sex + 0.5 * chronic + 0.08 * prev + 0.02 * (bmi - 26) + 0.3 * bmi_missing
y = rng.poisson(np.exp(eta) * frailty)
bmi_obs = np.where(bmi_missing, np.nan, bmi)

df = pd.DataFrame({"age": age, "sex": sex, "chronic": chronic, "prev": prev.astype(float), "bmi": bmi_obs, "y": y.astype(float)})
df.to_csv(os.path.join(OUT, "glm_small.csv"), index=False, na_rep="NA", float_format="%.17g")

# caregap's design: intercept, features in order, bmi mean-imputed + indicator after bmi.
X = df[["age", "sex", "chronic", "prev"]].copy()
X["bmi"] = df["bmi"].fillna(df["bmi"].mean())
X["bmi__missing"] = df["bmi"].isna().astype(float)
X = sm.add_constant(X, prepend=True).rename(columns={"const": "intercept"})

pois = sm.GLM(df["y"], X, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200)
nb = sm.NegativeBinomial(df["y"], X, loglike_method="nb2").fit(method="newton", maxiter=200, tol=1e-14, disp=0)

# AUC reference: scores = Poisson linear predictor, labels = top-10% indicator of y.
threshold = float(np.sort(y)[::-1][int(np.ceil(0.1 * n)) - 1])
labels = (y >= threshold).astype(int)
if labels.sum() > np.ceil(0.1 * n):
    threshold = float(np.min(y[y > threshold]))
    labels = (y >= threshold).astype(int)
auc = roc_auc_score(labels, pois.fittedvalues)

# Logistic regression on the top-10% labels: standardised design (ddof=0), C=1
# (caregap's alpha=1), coefficients mapped back to the original scale.
D = X.drop(columns="intercept")
mean, sd = D.mean(), D.std(ddof=0)
lr = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(((D - mean) / sd).to_numpy(), labels)
coef = lr.coef_[0] / sd.to_numpy()
icpt = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean.to_numpy() / sd.to_numpy()))
lr_auc = roc_auc_score(labels, lr.predict_proba(((D - mean) / sd).to_numpy())[:, 1])

# Unpenalised logistic regression (caregap's alpha = 0): statsmodels Logit.
logit = sm.Logit(labels, X).fit(method="newton", maxiter=200, tol=1e-14, disp=0)

ref = {
    "columns": list(X.columns),
    "poisson": {
        "params": pois.params.tolist(),
        "bse": pois.bse.tolist(),
        "pvalues": pois.pvalues.tolist(),
        "deviance": float(pois.deviance),
        "null_deviance": float(pois.null_deviance),
        "llf": float(pois.llf),
    },
    "nb2": {
        "params": nb.params.iloc[:-1].tolist(),
        "bse": nb.bse.iloc[:-1].tolist(),
        "alpha": float(nb.params.iloc[-1]),
        "alpha_bse": float(nb.bse.iloc[-1]),
        "llf": float(nb.llf),
    },
    "logistic": {"intercept": icpt, "coef": coef.tolist(), "auc": float(lr_auc)},
    "logit": {"params": logit.params.tolist(), "bse": logit.bse.tolist(), "llf": float(logit.llf)},
    "auc": {"threshold": threshold, "positives": int(labels.sum()), "auc_of_poisson_mu": float(auc)},
}
with open(os.path.join(OUT, "glm_reference.json"), "w") as f:
    json.dump(ref, f, indent=2)
print(json.dumps(ref, indent=2))
