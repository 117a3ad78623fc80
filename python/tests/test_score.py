"""Scoring, ranking and call lists from Python give exactly the CLI's tables."""

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import caregap
from conftest import runs_without_gil, AS_OF, run_cli, run_ok


def plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain text, one chunk: how the files store them."""
    fields = [
        pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type, f.nullable)
        for f in table.schema
    ]
    return table.cast(pa.schema(fields)).combine_chunks()


def read(path) -> pa.Table:
    t = pq.read_table(path)
    return t.replace_schema_metadata(None).combine_chunks()


def assert_same(ours: pa.Table, theirs: pa.Table) -> None:
    ours = plain(ours).replace_schema_metadata(None)
    assert ours.column_names == theirs.column_names
    assert ours.num_rows == theirs.num_rows
    for name in ours.column_names:
        assert ours.column(name).equals(theirs.column(name)), name


def test_score_from_folder_is_the_cli_run(population_dir, library, cli_run):
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    run = caregap.score(pop, library)
    assert run.firings.num_rows > 1000
    assert_same(run.firings, read(cli_run / "firings.parquet"))
    assert_same(run.features, read(cli_run / "features.parquet"))
    assert_same(run.summary, read(cli_run / "criteria_summary.parquet"))
    info, cli = run.run_info, json.loads((cli_run / "run.json").read_text())
    assert info["counts"] == cli["counts"]
    assert info["library"]["hash"] == cli["library"]["hash"]
    assert info["unit_mismatches"] == cli["unit_mismatches"]
    assert info["rejected_rows"] == cli["rejected_rows"]
    assert info["as_of"] == AS_OF


def test_score_status_is_the_cli_status_run(population_dir, library, tmp_path):
    out = tmp_path / "run"
    run_ok("score", "--data", str(population_dir), "--criteria", str(library), "--as-of", "2025-06-30",
           "--status", "--out", str(out))
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    # An earlier scoring date than the load's, as a date object.
    run = caregap.score(pop, caregap.Library.load(str(library)), dt.date(2025, 6, 30), status=True)
    assert set(pc.unique(plain(run.firings).column("status")).to_pylist()) == {"open", "excluded", "closed"}
    assert_same(run.firings, read(out / "firings.parquet"))


def tables(population_dir):
    return {
        name: pq.read_table(population_dir / f"{name}.parquet")
        if (population_dir / f"{name}.parquet").exists()
        else pq.read_table(population_dir / name)
        for name in ["patients", "events", "consents", "outreach"]
    }


def test_score_from_tables_in_memory_is_the_cli_run(population_dir, library, cli_run):
    t = tables(population_dir)
    pop = caregap.Population.from_tables(
        # patients as a pandas DataFrame (dates as datetime.date objects),
        # the rest as pyarrow tables
        t["patients"].to_pandas(),
        t["events"],
        consents=t["consents"],
        outreach=t["outreach"],
        as_of=AS_OF,
    )
    from_folder = caregap.Population.load(population_dir, as_of=AS_OF)
    assert (pop.n_patients, pop.n_events) == (from_folder.n_patients, from_folder.n_events)
    run = caregap.score(pop, library)
    assert_same(run.firings, read(cli_run / "firings.parquet"))
    assert_same(run.features, read(cli_run / "features.parquet"))
    assert_same(run.summary, read(cli_run / "criteria_summary.parquet"))
    # The load report counts the same rows, tables named "(in memory)".
    ours = {r["table"]: (r["rows_read"], r["rows_used"], r["rows_rejected"]) for r in pop.report["tables"]}
    theirs = {r["table"]: (r["rows_read"], r["rows_used"], r["rows_rejected"]) for r in from_folder.report["tables"]}
    assert ours == theirs
    assert pop.report["tables"][0]["files"][0]["path"] == "patients (in memory)"


def test_score_from_polars(population_dir, library, cli_run):
    pl = pytest.importorskip("polars")
    t = tables(population_dir)
    pop = caregap.Population.from_tables(pl.from_arrow(t["patients"]), pl.from_arrow(t["events"]), as_of=AS_OF)
    run = caregap.score(pop, library)
    # No consents/outreach tables: the firings (which ignore them) are the same.
    assert_same(run.firings, read(cli_run / "firings.parquet"))


def test_rank_and_calllist_are_the_cli_ones(population_dir, library, cli_run, tmp_path):
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    ranking = caregap.rank(caregap.score(pop, library))
    assert_same(ranking.calllist, read(cli_run / "calllist.parquet"))
    assert_same(ranking.risk, read(cli_run / "risk.parquet"))
    assert_same(ranking.exclusions, read(cli_run / "exclusions.parquet"))
    clinic = ranking.clinics[0]
    out = tmp_path / "list.parquet"
    run_ok("calllist", "--run", str(cli_run), "--clinic", clinic, "--capacity", "20",
           "--format", "parquet", "--out", str(out))
    ours = caregap.calllist(ranking, clinic, capacity=20)
    assert ours.num_rows == 20
    assert_same(ours, read(out))
    with pytest.raises(caregap.CaregapError, match="unknown clinic \"NOPE\"; clinics of this run: "):
        caregap.calllist(ranking, "NOPE")
    # Capacities given to rank cut every clinic's list.
    capped = caregap.rank(caregap.score(pop, library), capacities=5)
    assert caregap.calllist(capped, clinic).num_rows == 5


def test_zero_copy_export(population_dir, library):
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    run = caregap.score(pop, library)
    stream = run._inner.firings_stream()
    engine = set(stream.buffer_addresses())
    before = pa.total_allocated_bytes()
    table = pa.RecordBatchReader.from_stream(stream).read_all()
    # Nothing was allocated from pyarrow's pool: the buffers are the engine's.
    assert pa.total_allocated_bytes() == before
    seen = {
        buf.address
        for column in table.columns
        for chunk in column.chunks
        for buf in chunk.buffers()
        if buf is not None and buf.size > 0
    }
    assert seen and seen <= engine, f"{len(seen - engine)} buffers are not the engine's"
    assert table.num_rows == stream.num_rows
    # The evidence text is one buffer per part, shared by pyarrow as it is.
    evidence = table.column("evidence").chunk(0).buffers()[2].address
    assert evidence in engine


def test_errors_carry_messages_and_diagnostics(tmp_path, population_dir):
    bad = tmp_path / "lib"
    bad.mkdir()
    (bad / "bad.toml").write_text(
        '[[criterion]]\nid = "X.ONE"\ntitle = "t"\npriority = 11\npopulation = "age >= 18"\ngap = "nosuch(1)"\n'
    )
    with pytest.raises(caregap.CaregapError) as e:
        caregap.check(bad)
    diags = e.value.diagnostics
    assert diags and all(d["severity"] == "error" for d in diags)
    assert "has %d error" % len(diags) in str(e.value)
    cli = run_cli("check", str(bad))
    assert cli.returncode != 0
    for d in diags:
        assert d["file"] == "bad.toml"
        # The CLI shows the same code and message for each diagnostic.
        assert d["code"] in cli.stderr and d["message"] in cli.stderr
    with pytest.raises(caregap.CaregapError) as e:
        caregap.Library.load(str(bad))
    assert e.value.diagnostics == diags

    # Data errors: the same message as the command line's.
    missing = tmp_path / "nodata"
    with pytest.raises(caregap.CaregapError, match="cannot load the population from") as e:
        caregap.Population.load(missing, as_of=AS_OF)
    assert e.value.diagnostics == []
    patients = tables(population_dir)["patients"].drop_columns(["clinic_id"])
    with pytest.raises(caregap.CaregapError, match="clinic_id") as e:
        caregap.Population.from_tables(patients, tables(population_dir)["events"], as_of=AS_OF)
    assert "patients (in memory)" in str(e.value)
    with pytest.raises(caregap.CaregapError, match="is not a date"):
        caregap.Population.load(population_dir, as_of="2026-13-01")
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    with pytest.raises(caregap.CaregapError, match="after the date the population was loaded for"):
        caregap.score(pop, "criteria", "2026-06-01")


def test_progress_is_quiet_unless_asked(population_dir, library, capfd):
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    caregap.score(pop, library)
    assert capfd.readouterr().err == ""
    caregap.score(pop, library, progress=True)
    err = capfd.readouterr().err
    assert "scoring: " in err and f"/{pop.n_patients} people" in err


def test_gil_is_released_while_scoring(population_dir, library):
    pop = caregap.Population.load(population_dir, as_of=AS_OF)
    lib = caregap.Library.load(str(library))
    assert runs_without_gil(lambda: caregap.score(pop, lib))
