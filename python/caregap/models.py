"""scikit-learn estimators over caregap's models (``caregap-models``).

The fitting and prediction are the Rust library's (IRLS for the GLMs and the
logistic regression, the histogram gradient booster), run with the GIL
released; this module only validates inputs the scikit-learn way and keeps
the fitted model. Estimators take numpy arrays, pandas/polars DataFrames or
pyarrow Tables (converted to a float64 matrix; NaN = missing where allowed),
support ``get_params``/``set_params``/``clone``, pickling, and so
``cross_val_score``, pipelines and grid searches.

=============================  =========================================
estimator                      model
=============================  =========================================
:class:`PoissonRegressor`      Poisson GLM, log link (``poisson``)
:class:`NegativeBinomialRegressor`  NB2 GLM, dispersion by ML (``nb2``)
:class:`LogisticRegression`    logistic regression, 2 classes (``logistic``)
:class:`GradientBoostingRegressor`  booster, Poisson objective (``gbm-poisson``)
:class:`GradientBoostingClassifier` booster, logistic objective (``gbm-logistic``)
=============================  =========================================

Requires scikit-learn (``pip install 'caregap[models]'``).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "caregap.models needs scikit-learn >= 1.6: pip install 'caregap[models]'"
    ) from e

from . import CaregapError
from . import _caregap

__all__ = [
    "ModelError",
    "PoissonRegressor",
    "NegativeBinomialRegressor",
    "LogisticRegression",
    "GradientBoostingRegressor",
    "GradientBoostingClassifier",
]


class ModelError(CaregapError, ValueError):
    """A model that cannot be fitted on the data given (the library's message)."""


def _matrix_input(X: Any) -> Any:
    """pyarrow Tables and other Arrow producers become pandas DataFrames
    (column names kept); everything else goes to scikit-learn's checks."""
    if hasattr(X, "__arrow_c_stream__") and not hasattr(X, "iloc") and not hasattr(X, "to_numpy"):
        import pyarrow as pa  # noqa: PLC0415

        return pa.table(X).to_pandas()
    if type(X).__module__.startswith("pyarrow"):
        return X.to_pandas()
    return X


class _Estimator(BaseEstimator):
    _kind = ""
    _allow_nan = False

    def _params(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _check_X(self, X: Any, reset: bool, y: Any = None):
        X = _matrix_input(X)
        finite = "allow-nan" if self._allow_nan else True
        if y is None:
            if reset:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None"
                )
            return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=finite)
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=np.float64,
            ensure_all_finite=finite,
            ensure_min_samples=2,
            y_numeric=not isinstance(self, ClassifierMixin),
        )

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: Optional[Any]) -> None:
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim != 1 or w.shape[0] != X.shape[0]:
                raise ValueError(f"sample_weight has shape {w.shape}; expected ({X.shape[0]},)")
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("sample weights must be finite and >= 0")
            if not np.any(w > 0):
                raise ValueError("sample weights are all zero: there is no row to fit on")
            # A row of weight zero adds nothing to a weighted fit; the
            # library takes positive weights only, so such rows are left out.
            keep = w > 0
            if not np.all(keep):
                X, y = X[keep], y[keep]
            w = np.ascontiguousarray(w[keep])
        try:
            self.model_ = _caregap.fit(
                self._kind,
                np.ascontiguousarray(X, dtype=np.float64),
                np.ascontiguousarray(y, dtype=np.float64),
                w,
                json.dumps(self._params()),
            )
        except CaregapError as e:
            raise ModelError(str(e)) from e
        self.n_iter_ = self.model_.n_iter

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._check_X(X, reset=False)
        try:
            return self.model_.predict(np.ascontiguousarray(X, dtype=np.float64))
        except CaregapError as e:
            raise ModelError(str(e)) from e


class _CountRegressor(RegressorMixin, _Estimator):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_CountRegressor":
        """Fits on ``X`` (n × p) and counts ``y`` (finite, >= 0)."""
        if y is None:
            self._check_X(X, reset=True)
        X, y = self._check_X(X, reset=True, y=y)
        self._fit(X, y, sample_weight)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted means."""
        return self._predict_raw(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        tags.input_tags.allow_nan = self._allow_nan
        return tags


class _BinaryClassifier(ClassifierMixin, _Estimator):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_BinaryClassifier":
        """Fits on ``X`` (n × p) and labels ``y`` of exactly two classes (the
        second of the sorted classes is the positive one)."""
        if y is None:
            self._check_X(X, reset=True)
        X, y = self._check_X(X, reset=True, y=y)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind != "binary" and len(np.unique(y)) > 2:
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}."
            )
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) != 2:
            raise ValueError(
                f"{type(self).__name__} is a binary classifier: y has {len(classes)} class(es) "
                f"({list(classes)[:5]}), it needs exactly 2"
            )
        self.classes_ = classes
        self._fit(X, encoded.astype(np.float64), sample_weight)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``."""
        p = self._predict_raw(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class (``classes_[1]`` when its probability > 0.5)."""
        p = self._predict_raw(X)
        return self.classes_[(p > 0.5).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = self._allow_nan
        return tags


class PoissonRegressor(_CountRegressor):
    """Poisson GLM with a log link, fitted by IRLS (statsmodels' GLM Poisson).

    Parameters: ``l2`` (L2 penalty on the non-intercept coefficients),
    ``max_iter``, ``tol`` (relative change of the deviance)."""

    _kind = "poisson"

    def __init__(self, l2: float = 0.0, max_iter: int = 100, tol: float = 1e-12) -> None:
        self.l2 = l2
        self.max_iter = max_iter
        self.tol = tol

    def _params(self) -> Dict[str, Any]:
        return {"l2": float(self.l2), "max_iter": int(self.max_iter), "tol": float(self.tol)}


class NegativeBinomialRegressor(PoissonRegressor):
    """Negative binomial (NB2) GLM, log link, dispersion by maximum
    likelihood (statsmodels' NegativeBinomial). Same parameters as
    :class:`PoissonRegressor`."""

    _kind = "nb2"


class LogisticRegression(_BinaryClassifier):
    """Logistic regression by IRLS; ``alpha`` is the L2 penalty on the
    standardised coefficients (0 = plain maximum likelihood)."""

    _kind = "logistic"

    def __init__(self, alpha: float = 1.0, max_iter: int = 100, tol: float = 1e-12) -> None:
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def _params(self) -> Dict[str, Any]:
        return {"alpha": float(self.alpha), "max_iter": int(self.max_iter), "tol": float(self.tol)}


class _Booster:
    _allow_nan = True

    def __init__(
        self,
        num_rounds: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: Optional[int] = None,
        min_data_in_leaf: int = 20,
        lambda_l2: float = 0.0,
        max_bin: int = 255,
        bagging_fraction: float = 1.0,
        bagging_freq: int = 0,
        feature_fraction: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.num_rounds = num_rounds
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.max_bin = max_bin
        self.bagging_fraction = bagging_fraction
        self.bagging_freq = bagging_freq
        self.feature_fraction = feature_fraction
        self.seed = seed

    def _params(self) -> Dict[str, Any]:
        return {
            "num_rounds": int(self.num_rounds),
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "max_depth": None if self.max_depth is None else int(self.max_depth),
            "min_data_in_leaf": int(self.min_data_in_leaf),
            "lambda_l2": float(self.lambda_l2),
            "max_bin": int(self.max_bin),
            "bagging_fraction": float(self.bagging_fraction),
            "bagging_freq": int(self.bagging_freq),
            "feature_fraction": float(self.feature_fraction),
            "seed": int(self.seed),
        }


class GradientBoostingRegressor(_Booster, _CountRegressor):
    """Histogram gradient boosting with a Poisson objective (LightGBM's
    parameters and defaults); NaN is a missing value."""

    _kind = "gbm-poisson"


class GradientBoostingClassifier(_Booster, _BinaryClassifier):
    """Histogram gradient boosting with a logistic objective, two classes;
    NaN is a missing value."""

    _kind = "gbm-logistic"
