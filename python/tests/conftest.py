"""Shared fixtures: the real `caregap` binary, a small generated population
and the CLI's own scoring run of it, to compare the Python package against."""

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-01-01"


def caregap_bin() -> Path:
    """The binary built by `cargo test`/`cargo build` (CAREGAP_BIN overrides)."""
    path = Path(os.environ.get("CAREGAP_BIN", ROOT / "target" / "debug" / "caregap"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it with `cargo build --bin caregap` (or set CAREGAP_BIN)")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([str(caregap_bin()), *args], capture_output=True, text=True)
    return out


def run_ok(*args: str) -> subprocess.CompletedProcess:
    out = run_cli(*args)
    assert out.returncode == 0, f"caregap {' '.join(args)} failed:\n{out.stderr}"
    return out


@pytest.fixture(scope="session")
def library() -> Path:
    return ROOT / "criteria"


@pytest.fixture(scope="session")
def population_dir(tmp_path_factory) -> Path:
    """1,500 generated people over 3 years (every table of the data model)."""
    out = tmp_path_factory.mktemp("pop") / "pop"
    run_ok("synth", "--patients", "1500", "--seed", "7", "--as-of", AS_OF, "--years", "3", "--out", str(out))
    return out


@pytest.fixture(scope="session")
def cli_run(population_dir, library, tmp_path_factory) -> Path:
    """`caregap score` of the population, then `caregap rank`."""
    out = tmp_path_factory.mktemp("run") / "run"
    run_ok("score", "--data", str(population_dir), "--criteria", str(library), "--as-of", AS_OF, "--out", str(out))
    run_ok("rank", "--run", str(out))
    return out


def runs_without_gil(call) -> bool:
    """Whether another Python thread ran code in the middle of `call()`: it
    cannot while the call holds the GIL."""
    stamps = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    finally:
        done.set()
        t.join()
    margin = (end - start) / 4
    return len([s for s in stamps if start + margin < s < end - margin]) >= 3
