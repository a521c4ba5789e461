"""Result store: every finished run persisted at once, atomically, in SQLite (WAL mode).

Layout
------
``<out>/results.sqlite`` with two tables:

``runs``
    One row per finished run, primary key ``(claim_id, variant, params, seed_index,
    code_version)``. ``payload`` is the observed arrays as canonical JSON (sorted keys; each
    array as dtype, shape and a list of floats -- float64 ``repr`` round-trips exactly);
    ``checksum`` is the SHA-256 of ``payload``; ``seconds`` (wall time) is kept apart from the
    payload so runs can be compared "identical apart from timings".
``verdicts``
    The latest verdict per claim and budget (for ``proofs-check list`` / ``show``).

Each run is written in its own transaction, so a sweep interrupted by Ctrl-C or ``kill -9``
loses at most the runs still in flight. A row whose checksum does not match its payload (or
whose payload does not decode) is reported as corrupt by :meth:`ResultStore.get`, deleted and
recomputed by the runner -- never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from .claim import Verdict

DB_NAME = "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    claim_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    params TEXT NOT NULL,
    seed_index INTEGER NOT NULL,
    code_version TEXT NOT NULL,
    payload BLOB NOT NULL,
    checksum TEXT NOT NULL,
    seconds REAL NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (claim_id, variant, params, seed_index, code_version)
);
CREATE TABLE IF NOT EXISTS verdicts (
    claim_id TEXT NOT NULL,
    budget TEXT NOT NULL,
    code_version TEXT NOT NULL,
    verdict TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (claim_id, budget)
);
"""


class CorruptEntry(Exception):
    """A stored run whose checksum or encoding is wrong."""


def encode_observed(observed: dict) -> bytes:
    """Canonical bytes of a dict of float arrays (deterministic: same arrays -> same bytes).

    Parameters
    ----------
    observed : dict of str -> array_like
        Converted to float64; NaN and inf are kept (JSON ``NaN`` / ``Infinity``).
    """
    if not isinstance(observed, dict) or not observed:
        raise ValueError(f"observed must be a non-empty dict of arrays, got {type(observed).__name__}")
    out = {}
    for name, value in observed.items():
        if not isinstance(name, str):
            raise ValueError(f"observed keys must be strings, got {name!r}")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"observed[{name!r}] is not a float array: {exc}") from None
        out[name] = {"shape": list(arr.shape), "data": [float(v) for v in arr.ravel()]}
    return json.dumps(out, sort_keys=True, separators=(",", ":")).encode()


def decode_observed(payload: bytes) -> dict:
    """Inverse of :func:`encode_observed`: dict of str -> float64 ndarray."""
    raw = json.loads(payload.decode())
    return {name: np.asarray(v["data"], dtype=np.float64).reshape(v["shape"]) for name, v in raw.items()}


def checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class ResultStore:
    """SQLite-backed store of finished runs and verdicts under a results directory.

    Parameters
    ----------
    out_dir : str or Path
        Results directory (created if needed); the database is ``out_dir / "results.sqlite"``.
    """

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / DB_NAME
        # isolation_level=None: autocommit; explicit BEGIN/COMMIT per write keeps each run atomic.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against process kills in WAL mode (only an OS crash can lose the tail).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ runs
    def put(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str,
            observed: dict, seconds: float) -> None:
        """Persist one finished run atomically (replacing any previous row with the same key)."""
        payload = encode_observed(observed)
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (claim_id, variant, params, int(seed_index), code_version, payload, checksum(payload),
                 float(seconds), time.time()))

    def get(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str):
        """Return ``(observed, seconds)`` or ``None`` if absent.

        Raises
        ------
        CorruptEntry
            If the stored checksum does not match the payload or the payload does not decode.
        """
        row = self._db.execute(
            "SELECT payload, checksum, seconds FROM runs WHERE claim_id=? AND variant=? AND params=? "
            "AND seed_index=? AND code_version=?",
            (claim_id, variant, params, int(seed_index), code_version)).fetchone()
        if row is None:
            return None
        payload, digest, seconds = bytes(row[0]), row[1], row[2]
        if checksum(payload) != digest:
            raise CorruptEntry(f"checksum mismatch for {claim_id}/{variant} {params} seed {seed_index}")
        try:
            return decode_observed(payload), float(seconds)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise CorruptEntry(f"undecodable payload for {claim_id}/{variant} {params} seed "
                               f"{seed_index}: {exc}") from None

    def delete(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str) -> None:
        with self._transaction():
            self._db.execute(
                "DELETE FROM runs WHERE claim_id=? AND variant=? AND params=? AND seed_index=? "
                "AND code_version=?", (claim_id, variant, params, int(seed_index), code_version))

    def count(self, claim_id: str | None = None) -> int:
        if claim_id is None:
            return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM runs WHERE claim_id=?", (claim_id,)).fetchone()[0])

    def claim_ids(self) -> list[str]:
        """Sorted ids of the claims with at least one stored run (any budget or code version)."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT claim_id FROM runs ORDER BY claim_id")]

    def payloads(self, claim_id: str | None = None) -> dict:
        """``{(claim_id, variant, params, seed_index, code_version): payload bytes}`` (for comparisons)."""
        sql = "SELECT claim_id, variant, params, seed_index, code_version, payload FROM runs"
        args = ()
        if claim_id is not None:
            sql += " WHERE claim_id=?"
            args = (claim_id,)
        return {tuple(r[:5]): bytes(r[5]) for r in self._db.execute(sql, args)}

    # ------------------------------------------------------------------ verdicts
    def put_verdict(self, verdict: Verdict, code_version: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                             (verdict.claim_id, verdict.budget, code_version, verdict.to_json(), time.time()))

    def last_verdict(self, claim_id: str) -> Verdict | None:
        """Most recent verdict for ``claim_id`` (either budget), or ``None``."""
        row = self._db.execute("SELECT verdict FROM verdicts WHERE claim_id=? ORDER BY finished_at DESC "
                               "LIMIT 1", (claim_id,)).fetchone()
        return None if row is None else Verdict.from_json(row[0])

    # ------------------------------------------------------------------ internals
    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, *rest):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()


def default_out_dir() -> Path:
    """``./proofs_check_results`` (override with the ``PROOFS_CHECK_OUT`` environment variable)."""
    return Path(os.environ.get("PROOFS_CHECK_OUT", "proofs_check_results"))
