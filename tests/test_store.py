"""Result store: round trips, WAL mode, checksums, corrupt entries recomputed, verdicts."""
import sqlite3

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from proofs_check import ResultStore, run_claims
from proofs_check.claim import MutantVerdict, Verdict
from proofs_check.store import CorruptEntry, decode_observed, encode_observed
from test_pc_synthetic import MEAN_RATE, SLOW_BOUND

KEY = ("a.b", "claim", '{"n":4}', 3, "v1")


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_encode_decode_round_trip_is_exact_and_deterministic(arr):
    payload = encode_observed({"x": arr, "y": np.float64(1.5)})
    out = decode_observed(payload)
    assert out["x"].shape == arr.shape and out["x"].dtype == np.float64
    np.testing.assert_array_equal(out["x"], arr)   # NaN == NaN here; bit-exact floats
    assert encode_observed({"y": np.float64(1.5), "x": arr.copy()}) == payload


def test_encode_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        encode_observed({})
    with pytest.raises(ValueError, match=r"observed\['x'\]"):
        encode_observed({"x": ["a", "b"]})


def test_put_get_and_wal_mode(tmp_path):
    with ResultStore(tmp_path) as store:
        assert store.get(*KEY) is None
        store.put(*KEY, {"err": np.arange(3.0)}, seconds=0.25)
        observed, seconds = store.get(*KEY)
        np.testing.assert_array_equal(observed["err"], [0.0, 1.0, 2.0])
        assert seconds == 0.25 and store.count() == 1 and store.count("a.b") == 1
        # WAL while a writer has it open (a kill -9 loses only runs in flight) ...
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # ... and one plain file once it is closed, so read-only openers create no -wal/-shm files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite", "results.sqlite.lock"]
    db = sqlite3.connect(tmp_path / "results.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_corrupt_payload_is_detected(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(*KEY, {"err": np.arange(3.0)}, seconds=0.1)
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.execute("UPDATE runs SET payload = ?", (b'{"err":{"data":[0.0,1.0,9.0],"shape":[3]}}',))
    db.commit()
    with ResultStore(tmp_path) as store, pytest.raises(CorruptEntry, match="checksum"):
        store.get(*KEY)


def test_truncated_payload_with_matching_checksum_is_detected(tmp_path):
    import hashlib
    with ResultStore(tmp_path) as store:
        store.put(*KEY, {"err": np.arange(3.0)}, seconds=0.1)
    bad = b'{"err":{"data":[0.0,1'
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.execute("UPDATE runs SET payload = ?, checksum = ?", (bad, hashlib.sha256(bad).hexdigest()))
    db.commit()
    with ResultStore(tmp_path) as store, pytest.raises(CorruptEntry, match="undecodable"):
        store.get(*KEY)


def test_runner_reports_corrupt_entries_before_recomputing_and_never_uses_them(tmp_path):
    from proofs_check.runner import InlineExecutor

    with ResultStore(tmp_path) as store:
        first = run_claims([SLOW_BOUND], store=store)
        reference = store.payloads()
    db = sqlite3.connect(tmp_path / "results.sqlite")
    # Flip one payload to a value that would break the bound if it were used.
    row = db.execute("SELECT rowid, params, seed_index FROM runs WHERE variant='claim' LIMIT 1").fetchone()
    db.execute("UPDATE runs SET payload = ? WHERE rowid = ?", (b'{"u":{"data":[5,5,5],"shape":[3]}}', row[0]))
    db.commit()
    db.close()
    events = []

    class Recording(InlineExecutor):
        def submit(self, fn, *args, **kwargs):
            events.append("compute")
            return super().submit(fn, *args, **kwargs)

    def on_corrupt(entries, recompute):
        events.append(("corrupt", [e.key[:4] for e in entries], recompute))

    with ResultStore(tmp_path) as store:
        second = run_claims([SLOW_BOUND], store=store, executor=Recording(), on_corrupt=on_corrupt)
        assert store.payloads() == reference
    assert events == [("corrupt", [("synthetic.slow_bound", "claim", row[1], row[2])], True), "compute"]
    assert second.n_corrupt == 1 and second.n_computed == 1 and second.n_reused == first.n_runs - 1
    assert second.results[0].verdict == first.results[0].verdict and second.ok


def test_default_corrupt_report_names_the_runs_on_stderr(tmp_path, capsys):
    with ResultStore(tmp_path) as store:
        run_claims([SLOW_BOUND], store=store)
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.execute("UPDATE runs SET checksum = 'x' WHERE variant = 'shifted'")
    db.commit()
    db.close()
    n = 2 * 3   # the quick grid (2 points) x 3 seeds of the mutant
    with ResultStore(tmp_path, readonly=True) as store:
        report = run_claims([SLOW_BOUND], store=store, compute=False)
    err = capsys.readouterr().err
    assert report.n_corrupt == n and report.results[0].verdict is None and report.results[0].missing == n
    assert f"{n} corrupt stored run(s) found; they are treated as missing (not deleted):" in err
    assert 'synthetic.slow_bound/shifted {"i":0,"sleep":0.0} seed 0: checksum mismatch' in err
    with ResultStore(tmp_path) as store:   # nothing was deleted by the read-only pass
        assert store.count() == 2 * n


def test_results_identical_apart_from_timings(tmp_path):
    payloads, timings = [], []
    for name in ("a", "b"):
        with ResultStore(tmp_path / name) as store:
            run_claims([MEAN_RATE], store=store)
            # Key without the code version: other files may change while the test runs.
            payloads.append({k[:4]: v for k, v in store.payloads().items()})
            timings.append(sorted(r[0] for r in store._db.execute("SELECT seconds FROM runs")))
    assert payloads[0] == payloads[1]
    assert len(timings[0]) == len(payloads[0])


def test_claim_ids_lists_claims_with_stored_runs(tmp_path):
    with ResultStore(tmp_path) as store:
        assert store.claim_ids() == []
        store.put("b.x", "claim", '{"n":1}', 0, "v1", {"e": np.zeros(1)}, 0.0)
        store.put("a.y", "m", '{"n":1}', 0, "v2", {"e": np.zeros(1)}, 0.0)
        store.put("b.x", "m", '{"n":1}', 0, "v1", {"e": np.zeros(1)}, 0.0)
        assert store.claim_ids() == ["a.y", "b.x"]


def test_verdicts_round_trip_and_last_verdict(tmp_path):
    v = Verdict("a.b", True, "ok", {"x": 1.5, "g": [{"ci": [0.1, 0.2]}]}, 10, 5, "quick",
                (MutantVerdict("m", True, "fails", "bug", {"y": 2}),), ("note",))
    assert Verdict.from_json(v.to_json()) == v
    with ResultStore(tmp_path) as store:
        assert store.last_verdict("a.b") is None
        store.put_verdict(v, "v1")
        assert store.last_verdict("a.b") == v
