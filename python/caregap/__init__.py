"""caregap in Python: care-gap detection and risk stratification for primary care.

A thin layer over the Rust engine (the extension module ``caregap._caregap``):
loading, scoring, ranking and the models are the engine's own code, run with
the GIL released; results come back as ``pyarrow.Table`` through the Arrow
PyCapsule interface, without copying the engine's buffers.

>>> import caregap
>>> pop = caregap.Population.load("pop", as_of="2026-01-01")
>>> run = caregap.score(pop, "criteria")
>>> run.firings.num_rows, run.summary.to_pandas().head()
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
from typing import Any, Dict, List, Optional, Union

import pyarrow as _pa

from . import _caregap
from ._caregap import CaregapError, Library

__all__ = [
    "CaregapError",
    "Library",
    "Population",
    "ScoreResult",
    "RankResult",
    "check",
    "score",
    "rank",
    "calllist",
    "__version__",
]

__version__: str = _caregap.__version__

PathLike = Union[str, "_os.PathLike[str]"]
DateLike = Union[str, _dt.date, None]


def _as_of(value: DateLike) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        raise TypeError(
            "as_of is a calendar date: pass a datetime.date or 'YYYY-MM-DD', not a datetime"
        )
    if isinstance(value, _dt.date):
        return value.isoformat()
    raise TypeError(f"as_of must be a 'YYYY-MM-DD' string or a datetime.date, not {type(value).__name__}")


def _table(stream: Any) -> _pa.Table:
    """A pyarrow.Table over an object with ``__arrow_c_stream__`` (no copy)."""
    return _pa.RecordBatchReader.from_stream(stream).read_all()


def _arrow(obj: Any, name: str) -> Any:
    """An object with ``__arrow_c_stream__`` for a table argument: pyarrow
    tables and record batches, polars DataFrames and any other Arrow
    producer pass as they are; a pandas DataFrame is converted by pyarrow
    (``preserve_index=False``)."""
    if obj is None or hasattr(obj, "__arrow_c_stream__"):
        return obj
    if isinstance(obj, _pa.RecordBatch):
        return _pa.Table.from_batches([obj])
    try:
        import pandas as pd  # noqa: PLC0415
    except ImportError:  # pragma: no cover - pandas is optional
        pd = None
    if pd is not None and isinstance(obj, pd.DataFrame):
        return _pa.Table.from_pandas(obj, preserve_index=False)
    raise TypeError(
        f"{name} must be a pyarrow Table, a pandas or polars DataFrame or another "
        f"object with __arrow_c_stream__, not {type(obj).__name__}"
    )


def _library(library: Union[Library, PathLike]) -> Library:
    if isinstance(library, Library):
        return library
    return Library.load(_os.fspath(library))


class Population:
    """A population loaded into the engine (the data model's tables).

    Build it with :meth:`load` (a folder of Parquet tables, as ``caregap
    score --data``) or :meth:`from_tables` (tables in memory).
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: "_caregap.Population") -> None:
        self._inner = inner

    @classmethod
    def load(cls, data_dir: PathLike, as_of: DateLike = None, strict: bool = False) -> "Population":
        """Loads ``data_dir`` (``patients``, ``events``, optional ``consents``
        and ``outreach`` Parquet tables) as of ``as_of`` (default: today).
        Events after ``as_of`` are set aside; ``strict`` makes any unusable row
        an error. Raises :class:`CaregapError` with the command line's message."""
        return cls(_caregap.Population.load(_os.fspath(data_dir), _as_of(as_of), strict))

    @classmethod
    def from_tables(
        cls,
        patients: Any,
        events: Any,
        consents: Any = None,
        outreach: Any = None,
        as_of: DateLike = None,
        strict: bool = False,
    ) -> "Population":
        """Loads tables that never touched disk: pyarrow Tables, pandas or
        polars DataFrames (any object with ``__arrow_c_stream__``) with the
        data model's columns and types (dates as Date32: pyarrow
        ``pa.date32()``, polars ``pl.Date``, pandas ``datetime.date`` objects).
        The same checks, messages and counts as :meth:`load`."""
        return cls(
            _caregap.Population.from_tables(
                _arrow(patients, "patients"),
                _arrow(events, "events"),
                _arrow(consents, "consents"),
                _arrow(outreach, "outreach"),
                _as_of(as_of),
                strict,
            )
        )

    @property
    def as_of(self) -> str:
        """The date the population was loaded for (``YYYY-MM-DD``)."""
        return self._inner.as_of

    @property
    def n_patients(self) -> int:
        return self._inner.n_patients

    @property
    def n_events(self) -> int:
        """Usable events on or before ``as_of``."""
        return self._inner.n_events

    @property
    def report(self) -> Dict[str, Any]:
        """The load report: per table rows read, used, rejected (by reason,
        with examples) and after ``as_of`` (as ``caregap inspect``)."""
        return _json.loads(self._inner.report_json())

    def __repr__(self) -> str:
        return self._inner.__repr__()


class ScoreResult:
    """A scoring run in memory: ``firings``, ``features``, ``summary`` (the
    tables of ``firings.parquet``, ``features.parquet`` and
    ``criteria_summary.parquet``) and ``run_info`` (``run.json``)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: "_caregap.ScoreResult") -> None:
        self._inner = inner

    @property
    def firings(self) -> _pa.Table:
        """One row per open gap (with ``status=True`` also excluded and
        closed rows): ``patient_id``, ``clinic_id``, ``criterion_id``,
        ``priority``, ``status``, ``evidence``. ``clinic_id``,
        ``criterion_id`` and ``status`` are dictionary columns (categoricals
        in pandas). The engine's buffers, not a copy."""
        return _table(self._inner.firings_stream())

    @property
    def features(self) -> Optional[_pa.Table]:
        """One row per person alive on ``as_of``: ``patient_id``,
        ``clinic_id`` and the library's features; None when it has none."""
        stream = self._inner.features_stream()
        return None if stream is None else _table(stream)

    @property
    def summary(self) -> _pa.Table:
        """Per criterion and clinic (``ALL`` for all): in population,
        excluded, open, closed, rate."""
        return _table(self._inner.summary_stream())

    @property
    def run_info(self) -> Dict[str, Any]:
        """What ``run.json`` records: engine version, as_of, inputs, rejected
        rows, library (path, hash, counts), unit mismatches, counts, options,
        timings."""
        return _json.loads(self._inner.run_info_json)

    @property
    def as_of(self) -> str:
        return self._inner.as_of

    def arrow_streams(self) -> Dict[str, Any]:
        """The raw Arrow PyCapsule producers (``__arrow_c_stream__``) of the
        three tables, for consumers other than pyarrow (polars, DuckDB)."""
        return {
            "firings": self._inner.firings_stream(),
            "features": self._inner.features_stream(),
            "summary": self._inner.summary_stream(),
        }

    def __repr__(self) -> str:
        info = self.run_info
        c = info["counts"]
        return (
            f"<caregap.ScoreResult as of {info['as_of']}: {c['alive']} people scored, "
            f"{c['firings']} open gaps>"
        )


class RankResult:
    """A ranking (``caregap rank``): ``risk``, ``calllist`` (every clinic's
    whole ordered list) and ``exclusions`` as pyarrow Tables."""

    __slots__ = ("_inner",)

    def __init__(self, inner: "_caregap.RankResult") -> None:
        self._inner = inner

    @property
    def risk(self) -> _pa.Table:
        return _table(self._inner.risk_stream())

    @property
    def calllist(self) -> _pa.Table:
        return _table(self._inner.calllist_stream())

    @property
    def exclusions(self) -> _pa.Table:
        return _table(self._inner.exclusions_stream())

    @property
    def clinics(self) -> List[str]:
        return self._inner.clinics

    def __repr__(self) -> str:
        return f"<caregap.RankResult {len(self.clinics)} clinics, {self._inner.calllist_stream().num_rows} listed>"


def check(library_path: PathLike) -> List[Dict[str, Any]]:
    """``caregap check``: compiles the library; returns its warnings (dicts
    with file, line, column, code, severity, item, message). Raises
    :class:`CaregapError` whose ``.diagnostics`` holds every diagnostic when
    the library has errors."""
    return _caregap.check(_os.fspath(library_path))


def score(
    population: Population,
    library: Union[Library, PathLike],
    as_of: DateLike = None,
    *,
    status: bool = False,
    progress: bool = False,
) -> ScoreResult:
    """``caregap score`` in memory: every criterion and feature for the
    people alive on ``as_of`` (default: the population's ``as_of``; never
    later). ``library`` is a :class:`Library` or its path. ``status=True``
    also lists excluded and closed rows (``--status``); ``progress=True``
    writes progress lines to ``sys.stderr`` (quiet otherwise)."""
    if not isinstance(population, Population):
        raise TypeError(f"population must be a caregap.Population, not {type(population).__name__}")
    return ScoreResult(
        _caregap.score(population._inner, _library(library), _as_of(as_of), status, progress)
    )


def rank(
    result: ScoreResult,
    *,
    order: Optional[str] = None,
    config: Optional[PathLike] = None,
    capacities: Union[int, Dict[str, int], PathLike, None] = None,
    predictions: Any = None,
) -> RankResult:
    """``caregap rank`` in memory, from a :class:`ScoreResult` (its
    population's consents and outreach, its library's texts). ``order`` is
    ``"benefit"`` (default) or ``"additive"``; ``config`` a ranking TOML
    file; ``capacities`` an int (every clinic), a dict ``{clinic: n}``
    (``"default"`` for the rest) or a capacities file; ``predictions`` a table
    with ``patient_id`` and ``predicted_visits``."""
    if not isinstance(result, ScoreResult):
        raise TypeError(f"result must be a caregap.ScoreResult, not {type(result).__name__}")
    return RankResult(
        _caregap.rank(
            result._inner,
            order,
            None if config is None else _os.fspath(config),
            capacities,
            _arrow(predictions, "predictions"),
        )
    )


def calllist(ranking: RankResult, clinic: str, capacity: Optional[int] = None) -> _pa.Table:
    """``caregap calllist``: one clinic's list in order, cut at ``capacity``
    (else the capacities given to :func:`rank`), without the clinic column."""
    if not isinstance(ranking, RankResult):
        raise TypeError(f"ranking must be a caregap.RankResult, not {type(ranking).__name__}")
    return _table(_caregap.calllist(ranking._inner, clinic, capacity))
