"""Result store under faults: damaged files, corrupt verdicts, old schemas, read-only use, locks."""
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from proofs_check import ResultStore
from proofs_check.claim import MutantVerdict, Verdict
from proofs_check.store import CorruptEntry, StoreError, StoreLocked

KEY = ("a.b", "claim", '{"n":4}', 3, "v1")
VERDICT = Verdict("a.b", True, "ok", {"x": 1.5}, 10, 5, "quick", (MutantVerdict("m", True, "fails", "bug", {}),))

#: The schema written by proofs_check before verdicts were checksummed.
OLD_SCHEMA = """
CREATE TABLE runs (claim_id TEXT NOT NULL, variant TEXT NOT NULL, params TEXT NOT NULL,
    seed_index INTEGER NOT NULL, code_version TEXT NOT NULL, payload BLOB NOT NULL, checksum TEXT NOT NULL,
    seconds REAL NOT NULL, finished_at REAL NOT NULL,
    PRIMARY KEY (claim_id, variant, params, seed_index, code_version));
CREATE TABLE verdicts (claim_id TEXT NOT NULL, budget TEXT NOT NULL, code_version TEXT NOT NULL,
    verdict TEXT NOT NULL, finished_at REAL NOT NULL, PRIMARY KEY (claim_id, budget));
"""


def _filled_store(path, n=300):
    with ResultStore(path) as store:
        for i in range(n):
            store.put("a.b", "claim", f'{{"i":{i}}}', 0, "v", {"x": np.arange(50.0) + i}, 0.1)
    return path / "results.sqlite"


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("readonly", [False, True])
def test_a_file_that_is_not_a_database_is_a_one_line_store_error(tmp_path, readonly):
    (tmp_path / "results.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(StoreError) as err:
        ResultStore(tmp_path, readonly=readonly)
    text = _one_line(err)
    assert str(tmp_path / "results.sqlite") in text and "move it aside" in text


@pytest.mark.parametrize("page", [2, 3, 20])
def test_a_damaged_page_in_the_middle_of_the_file_is_detected_on_open(tmp_path, page):
    db_path = _filled_store(tmp_path)
    assert db_path.stat().st_size > 30 * 4096
    with open(db_path, "r+b") as f:   # overwrite the b-tree page header of one page
        f.seek((page - 1) * 4096)
        f.write(b"\xff" * 16)
    for readonly in (True, False):
        with pytest.raises(StoreError) as err:
            ResultStore(tmp_path, readonly=readonly)
        text = _one_line(err)
        assert "is damaged" in text and "move it aside" in text and str(db_path) in text


def test_a_damaged_payload_inside_a_page_is_a_corrupt_entry(tmp_path):
    db_path = _filled_store(tmp_path)
    with open(db_path, "r+b") as f:   # inside the cells of a leaf page of the runs table
        f.seek(19 * 4096 + 2000)
        f.write(b"\x07" * 8)
    with ResultStore(tmp_path, readonly=True) as store:
        bad = []
        for i in range(300):
            try:
                store.get("a.b", "claim", f'{{"i":{i}}}', 0, "v")
            except CorruptEntry as entry:
                bad.append(entry)
    assert len(bad) == 1 and bad[0].reason == "checksum mismatch"


def test_verdicts_are_checksummed(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put_verdict(VERDICT, "v1")
        stored, digest = store._db.execute("SELECT verdict, checksum FROM verdicts").fetchone()
        assert digest == hashlib.sha256(stored.encode()).hexdigest()
        assert store.last_verdict("a.b") == VERDICT
        store._db.execute("UPDATE verdicts SET verdict = replace(verdict, '\"passed\": true', '\"passed\": false')")
        with pytest.raises(CorruptEntry, match=r"^checksum mismatch for verdict of a.b \(quick budget\)$"):
            store.last_verdict("a.b")
        truncated = stored[:40]      # a truncated verdict whose checksum was updated with it
        store._db.execute("UPDATE verdicts SET verdict = ?, checksum = ?",
                          (truncated, hashlib.sha256(truncated.encode()).hexdigest()))
        with pytest.raises(CorruptEntry, match="undecodable verdict"):
            store.last_verdict("a.b")
        store._db.execute("UPDATE verdicts SET verdict = '[1, 2]'")   # valid JSON, not a verdict
        with pytest.raises(CorruptEntry):
            store.last_verdict("a.b")


def test_a_store_written_before_verdict_checksums_still_opens(tmp_path):
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)", ("a.b", "quick", "v0", VERDICT.to_json(), 1.0))
    db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)", ("c.d", "quick", "v0", VERDICT.to_json()[:30], 1.0))
    db.commit()
    db.close()
    with ResultStore(tmp_path, readonly=True) as store:   # read-only: no migration, old verdicts unchecked
        assert store.last_verdict("a.b") == VERDICT
        with pytest.raises(CorruptEntry, match="undecodable verdict"):
            store.last_verdict("c.d")
    with ResultStore(tmp_path) as store:   # writable: the checksum column is added
        assert store.last_verdict("a.b") == VERDICT
        newer = Verdict("c.d", False, "fresh", {}, 1, 1, "quick")
        store.put_verdict(newer, "v1")
        assert store.last_verdict("c.d") == newer
        rows = dict(store._db.execute("SELECT claim_id, checksum FROM verdicts").fetchall())
    assert rows["a.b"] is None and len(rows["c.d"]) == 64


def test_read_only_store_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "deeper"
    with ResultStore(missing, readonly=True) as store:
        assert store.count() == 0 and store.claim_ids() == [] and store.last_verdict("a.b") is None
        with pytest.raises(StoreError, match="read-only"):
            store.put(*KEY, {"x": np.zeros(1)}, 0.0)
    assert not (tmp_path / "nowhere").exists()

    with ResultStore(tmp_path) as store:
        store.put(*KEY, {"x": np.zeros(1)}, 0.0)
        store.put_verdict(VERDICT, "v1")
    before = sorted(p.name for p in tmp_path.iterdir())
    with ResultStore(tmp_path, readonly=True) as store:
        assert store.count() == 1 and store.last_verdict("a.b") == VERDICT
        with pytest.raises(StoreError, match="read-only"):
            store.put_verdict(VERDICT, "v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == before

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.sqlite").write_bytes(b"")   # an empty file reads as an empty store
    with ResultStore(tmp_path / "empty", readonly=True) as store:
        assert store.count() == 0


def test_out_dir_that_is_a_file_or_cannot_be_created(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is not a directory"):
            ResultStore(a_file, readonly=readonly)
    with pytest.raises(StoreError, match="cannot create the results directory"):
        ResultStore(a_file / "sub")
    with ResultStore(tmp_path / "new" / "parents" / "made") as store:   # missing parents are created
        assert store.count() == 0


def test_one_writer_at_a_time(tmp_path):
    with ResultStore(tmp_path) as first:
        first.put(*KEY, {"x": np.zeros(1)}, 0.0)
        with pytest.raises(StoreLocked) as err:
            ResultStore(tmp_path)
        text = _one_line(err)
        assert f"in use by another proofs-check run (pid {os.getpid()})" in text
        with ResultStore(tmp_path, readonly=True) as reader:   # readers are never locked out
            assert reader.count() == 1
    with ResultStore(tmp_path) as again:   # released on close
        assert again.count() == 1


def test_a_forked_worker_outliving_its_parent_does_not_hold_the_lock(tmp_path):
    """The parent opens the store, forks a long-lived child (as a worker pool would), and dies by
    SIGKILL; the child still runs, yet a new writer gets the store."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from proofs_check import ResultStore
        store = ResultStore({str(tmp_path)!r})
        pid = os.fork()
        if pid == 0:   # let go of the test's pipes, keep the inherited store
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            time.sleep(30)
            os._exit(0)
        print(pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    child = int(proc.stdout.split()[0])
    try:
        os.kill(child, 0)   # the forked child is alive ...
        with ResultStore(tmp_path) as store:   # ... and does not hold the lock
            assert store.count() == 0
    finally:
        os.kill(child, signal.SIGKILL)
