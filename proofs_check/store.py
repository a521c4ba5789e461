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
    The latest verdict per claim and budget (for ``proofs-check list`` / ``show``), as JSON with
    its SHA-256 in ``checksum`` (``NULL`` in stores written before verdicts were checksummed:
    such a verdict is only checked to decode).

Each run is written in its own transaction, so a sweep interrupted by Ctrl-C or ``kill -9``
loses at most the runs still in flight. The journal is WAL while a writer has the store open and
is switched back to a single file when it closes, so readers leave no ``-wal``/``-shm`` files.

Faults
------
* Opening runs ``PRAGMA quick_check`` (a few milliseconds per 10 MB); a database that fails it,
  or is not a database, raises :class:`StoreError` naming the file and what to do.
* A row whose checksum does not match its payload (or whose payload does not decode) raises
  :class:`CorruptEntry` from :meth:`ResultStore.get` / :meth:`ResultStore.last_verdict`; it is
  never deleted here -- the runner reports it and a recomputed run replaces it.
* One writer at a time: a writable store holds an advisory lock (``flock``) on
  ``results.sqlite.lock``; a second writer gets :class:`StoreLocked` at once. Read-only stores
  (``readonly=True``: ``proofs-check list``, ``show``, ``report``) take no lock and create no file
  or directory; a missing database reads as an empty store.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from .claim import Verdict

try:   # advisory locks; absent on Windows, where concurrent writers are not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

DB_NAME = "results.sqlite"
LOCK_NAME = DB_NAME + ".lock"

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
    checksum TEXT,
    PRIMARY KEY (claim_id, budget)
);
"""

#: SQLite errors meaning the file itself is damaged (as opposed to locked, missing or unwritable).
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class StoreError(Exception):
    """A results store that cannot be opened or used; the message is one line for the user."""


class StoreLocked(StoreError):
    """Another process has the store open for writing."""


class CorruptEntry(Exception):
    """A stored run or verdict whose checksum or encoding is wrong.

    Attributes
    ----------
    key : tuple
        ``(claim_id, variant, params, seed_index, code_version)`` of a run, or
        ``(claim_id, budget)`` of a verdict.
    reason : str
        ``"checksum mismatch"`` or ``"undecodable ...: <error>"``.
    """

    def __init__(self, key: tuple, reason: str):
        self.key, self.reason = tuple(key), reason
        super().__init__(f"{reason} for {describe_key(self.key)}")


def describe_key(key: tuple) -> str:
    """``claim/variant params seed i`` for a run key, ``verdict of claim (budget)`` for a verdict key."""
    if len(key) == 2:
        return f"verdict of {key[0]} ({key[1]} budget)"
    return f"{key[0]}/{key[1]} {key[2]} seed {key[3]}"


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


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _DAMAGED or type(exc) is sqlite3.DatabaseError


def _corrupt_store_message(path: Path, detail: str) -> str:
    detail = " ".join(detail.replace("*** in database main ***", "").split())   # one line
    return (f"{path} is damaged ({detail}); move it aside (mv {path} {path}.damaged) and rerun: "
            "the runs it held will be recomputed")


def _translate_errors(method):
    """Turn SQLite errors met after opening into a one-line :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                raise StoreError(_corrupt_store_message(self.path, str(exc))) from None
            raise StoreError(f"cannot use {self.path}: {exc}") from None

    return wrapper


#: Lock files held by ResultStores of this process, closed in forked children (worker pools) so
#: a worker outliving its parent does not keep the store locked.
_HELD_LOCKS: set = set()


def _drop_inherited_locks() -> None:
    for fd in list(_HELD_LOCKS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


class ResultStore:
    """SQLite-backed store of finished runs and verdicts under a results directory.

    Parameters
    ----------
    out_dir : str or Path
        Results directory; the database is ``out_dir / "results.sqlite"``.
    readonly : bool
        ``False`` (default): create the directory and database if needed and take the writer
        lock (:class:`StoreLocked` if another process holds it). ``True``: open the database
        read-only (SQLite ``mode=ro``), take no lock and create nothing; a missing database is an
        empty store.

    Raises
    ------
    StoreError
        ``out_dir`` is not a directory or cannot be created, the database cannot be opened, or it
        fails ``PRAGMA quick_check`` (the message names the file and says to move it aside).
    """

    def __init__(self, out_dir, *, readonly: bool = False):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / DB_NAME
        self.readonly = bool(readonly)
        self._lock_fd = None
        self._db = None
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise StoreError(f"{self.out_dir} is not a directory (give --out a directory for the results)")
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file")
        try:
            if self.readonly:
                self._open_readonly()
            else:
                self._open_writable()
        except BaseException:
            self.close()
            raise

    def _open_readonly(self) -> None:
        if not self.path.is_file():
            self._db = sqlite3.connect(":memory:", isolation_level=None)
            self._db.executescript(_SCHEMA)
            return
        uri = self.path.resolve().as_uri() + "?mode=ro"
        self._connect(lambda: sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0))
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"runs", "verdicts"} <= tables:   # an empty file (or another program's database)
            if tables:
                raise StoreError(f"{self.path} is not a proofs-check store (tables: {', '.join(sorted(tables))})")
            self._db.close()
            self._db = sqlite3.connect(":memory:", isolation_level=None)
            self._db.executescript(_SCHEMA)

    def _open_writable(self) -> None:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the results directory {self.out_dir}: "
                             f"{exc.strerror or exc}") from None
        self._lock()

        def connect():
            # isolation_level=None: autocommit; explicit BEGIN/COMMIT per write keeps each run atomic.
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against process kills in WAL mode (only an OS crash can lose the tail).
            db.execute("PRAGMA synchronous=NORMAL")
            return db

        self._connect(connect)
        try:
            self._db.executescript(_SCHEMA)
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(verdicts)")]
            if "checksum" not in columns:   # a store written before verdicts were checksummed
                self._db.execute("ALTER TABLE verdicts ADD COLUMN checksum TEXT")
        except sqlite3.DatabaseError as exc:
            raise StoreError(_corrupt_store_message(self.path, str(exc)) if _damaged(exc)
                             else f"cannot write to {self.path}: {exc}") from None

    def _connect(self, connect) -> None:
        """Open with ``connect`` and run the integrity check, translating failures to StoreError."""
        try:
            self._db = connect()
            problems = [r[0] for r in self._db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                raise StoreError(_corrupt_store_message(self.path, str(exc))) from None
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        if problems != ["ok"]:
            more = f" (+{len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise StoreError(_corrupt_store_message(self.path, f"integrity check: {problems[0]}{more}"))

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        lock_path = self.out_dir / LOCK_NAME
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot write to the results directory {self.out_dir}: "
                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLocked(f"the results store {self.path} is in use by another proofs-check run "
                              f"(pid {holder}); wait for it to finish or give another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        _HELD_LOCKS.add(fd)

    def close(self) -> None:
        if self._db is not None:
            if not self.readonly:
                # Back to a single file (no -wal/-shm left for readers to trip over); skipped, at
                # once, if a reader has the database open.
                try:
                    self._db.execute("PRAGMA busy_timeout=50")
                    self._db.execute("PRAGMA journal_mode=DELETE")
                except sqlite3.DatabaseError:
                    pass
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            _HELD_LOCKS.discard(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)   # explicit: forked workers may share the description
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ runs
    @_translate_errors
    def put(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str,
            observed: dict, seconds: float) -> None:
        """Persist one finished run atomically (replacing any previous row with the same key)."""
        self._check_writable()
        payload = encode_observed(observed)
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (claim_id, variant, params, int(seed_index), code_version, payload, checksum(payload),
                 float(seconds), time.time()))

    @_translate_errors
    def get(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str):
        """Return ``(observed, seconds)`` or ``None`` if absent.

        Raises
        ------
        CorruptEntry
            If the stored checksum does not match the payload or the payload does not decode.
        """
        key = (claim_id, variant, params, int(seed_index), code_version)
        row = self._db.execute(
            "SELECT payload, checksum, seconds FROM runs WHERE claim_id=? AND variant=? AND params=? "
            "AND seed_index=? AND code_version=?", key).fetchone()
        if row is None:
            return None
        payload, digest, seconds = bytes(row[0]), row[1], row[2]
        if checksum(payload) != digest:
            raise CorruptEntry(key, "checksum mismatch")
        try:
            return decode_observed(payload), float(seconds)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise CorruptEntry(key, f"undecodable payload ({exc})") from None

    @_translate_errors
    def delete(self, claim_id: str, variant: str, params: str, seed_index: int, code_version: str) -> None:
        self._check_writable()
        with self._transaction():
            self._db.execute(
                "DELETE FROM runs WHERE claim_id=? AND variant=? AND params=? AND seed_index=? "
                "AND code_version=?", (claim_id, variant, params, int(seed_index), code_version))

    @_translate_errors
    def count(self, claim_id: str | None = None) -> int:
        if claim_id is None:
            return int(self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM runs WHERE claim_id=?", (claim_id,)).fetchone()[0])

    @_translate_errors
    def claim_ids(self) -> list[str]:
        """Sorted ids of the claims with at least one stored run (any budget or code version)."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT claim_id FROM runs ORDER BY claim_id")]

    @_translate_errors
    def payloads(self, claim_id: str | None = None) -> dict:
        """``{(claim_id, variant, params, seed_index, code_version): payload bytes}`` (for comparisons)."""
        sql = "SELECT claim_id, variant, params, seed_index, code_version, payload FROM runs"
        args = ()
        if claim_id is not None:
            sql += " WHERE claim_id=?"
            args = (claim_id,)
        return {tuple(r[:5]): bytes(r[5]) for r in self._db.execute(sql, args)}

    @_translate_errors
    def run_index(self, claim_id: str) -> list[tuple]:
        """``(variant, params, seed_index, code_version, checksum, finished_at)`` of every stored run of
        ``claim_id`` (no payloads, nothing verified: a cheap index for freshness checks)."""
        return self._db.execute("SELECT variant, params, seed_index, code_version, checksum, finished_at "
                                "FROM runs WHERE claim_id=?", (claim_id,)).fetchall()

    # ------------------------------------------------------------------ verdicts
    @_translate_errors
    def put_verdict(self, verdict: Verdict, code_version: str) -> None:
        self._check_writable()
        text = verdict.to_json()
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO verdicts (claim_id, budget, code_version, verdict, "
                             "finished_at, checksum) VALUES (?, ?, ?, ?, ?, ?)",
                             (verdict.claim_id, verdict.budget, code_version, text, time.time(),
                              checksum(text.encode())))

    @_translate_errors
    def last_verdict(self, claim_id: str) -> Verdict | None:
        """Most recent verdict for ``claim_id`` (either budget), or ``None``.

        Raises
        ------
        CorruptEntry
            If that verdict's checksum does not match or its JSON does not decode to a Verdict
            (a verdict stored without a checksum, by older code, is only checked to decode).
        """
        has_checksum = "checksum" in [r[1] for r in self._db.execute("PRAGMA table_info(verdicts)")]
        row = self._db.execute(
            f"SELECT budget, verdict, {'checksum' if has_checksum else 'NULL'} FROM verdicts "
            "WHERE claim_id=? ORDER BY finished_at DESC LIMIT 1", (claim_id,)).fetchone()
        if row is None:
            return None
        budget, text, digest = row
        key = (claim_id, budget)
        raw = text.encode() if isinstance(text, str) else bytes(text)
        if digest is not None and checksum(raw) != digest:
            raise CorruptEntry(key, "checksum mismatch")
        try:
            return Verdict.from_json(raw.decode())
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise CorruptEntry(key, f"undecodable verdict ({type(exc).__name__}: {exc})") from None

    # ------------------------------------------------------------------ internals
    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")

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
