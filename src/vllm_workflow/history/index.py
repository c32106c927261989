"""The results index: one SQLite file beside the results (``history.sqlite``), WAL mode.

The bundles are the source of truth; the index is what makes a history of thousands of runs quick
to query. Every write is one ``BEGIN IMMEDIATE`` transaction with a busy timeout, so two ``make``
processes recording at once both land. ``sync`` brings the index up to date with the folders on
disk (new or changed folders read, removed ones dropped: bundles copied in from CI artifacts are
picked up the same way); ``rebuild`` reads every folder again. A folder that cannot be read is kept
in ``skipped`` with why, and named on every query until it is fixed or removed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from . import records
from .records import Check, Comparison, Figure, Run

INDEX_NAME = "history.sqlite"
#: Raised when the tables change: an index of another version is rebuilt from the bundles.
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0
#: How deep under the results folder bundles are looked for (CI artifacts copied in as folders).
MAX_DEPTH = 3

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, stamp INTEGER NOT NULL, kind TEXT NOT NULL,
    created TEXT NOT NULL, label TEXT NOT NULL, workload TEXT NOT NULL, complete INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, shape TEXT NOT NULL, host TEXT NOT NULL, hostname TEXT NOT NULL,
    kernel_release TEXT NOT NULL, kernel_build TEXT NOT NULL, kernel_config_sha TEXT NOT NULL,
    kernel_commit TEXT NOT NULL, project_rev TEXT NOT NULL, project_dirty INTEGER, arm TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_fingerprint ON runs (fingerprint, created);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created);
CREATE TABLE IF NOT EXISTS figures (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, metric TEXT NOT NULL, value REAL NOT NULL,
    lo REAL, hi REAL, PRIMARY KEY (run_id, metric)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, stamp INTEGER NOT NULL, created TEXT NOT NULL,
    label TEXT NOT NULL, verdict TEXT NOT NULL, exit_code INTEGER NOT NULL, bisect INTEGER NOT NULL,
    complete INTEGER NOT NULL, primary_metrics TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    comparison_id INTEGER NOT NULL REFERENCES comparisons (id) ON DELETE CASCADE, run_path TEXT NOT NULL,
    arm TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS members_by_run ON members (run_path);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, stamp INTEGER NOT NULL, created TEXT NOT NULL,
    run_path TEXT NOT NULL, verdict TEXT NOT NULL, exit_code INTEGER NOT NULL, bisect INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, stamp INTEGER NOT NULL, reason TEXT NOT NULL);
"""
TABLES = ("runs", "comparisons", "checks", "skipped")
RUN_COLUMNS = ("path", "kind", "created", "label", "workload", "complete", "fingerprint", "shape", "host",
               "hostname", "kernel_release", "kernel_build", "kernel_config_sha", "kernel_commit", "project_rev",
               "project_dirty", "arm")


@dataclass(frozen=True)
class Found:
    """A folder on disk that holds a bundle: its path relative to the results, its marker file and
    the marker's modification stamp (a changed stamp means read it again)."""

    path: str
    marker: str
    stamp: int


@dataclass(frozen=True)
class SyncReport:
    added: int
    removed: int
    skipped: tuple[tuple[str, str], ...]  # (path, why) of every folder that could not be read


def index_path(results: Path) -> Path:
    return results / INDEX_NAME


def scan(results: Path, depth: int = MAX_DEPTH) -> list[Found]:
    """Every bundle folder under ``results`` (a folder holding a marker file is not descended)."""
    out: list[Found] = []

    def walk(folder: Path, rel: str, level: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            sub = f"{rel}{entry.name}"
            for marker in records.MARKERS:
                try:
                    st = os.stat(os.path.join(entry.path, marker))
                except OSError:
                    continue
                out.append(Found(sub, marker, st.st_mtime_ns ^ st.st_size))
                break
            else:
                if level < depth:
                    walk(Path(entry.path), sub + "/", level + 1)

    walk(results, "", 1)
    return out


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. Two processes creating the index at once: the switch takes an exclusive lock
    that SQLite's busy handler does not wait for, so it is retried here within the busy timeout."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        _wal(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        raise WorkflowError(f"the results index {path} cannot be opened ({exc}). Fix: delete it (and its -wal/-shm "
                            "files); `make vllm-history REINDEX=1` rebuilds it from the bundles.") from exc
    return conn


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Index:
    """The index of one results folder."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.path = index_path(results)
        self.conn = _connect(self.path)
        self._ensure_schema()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        try:
            with _write(self.conn) as c:
                for statement in DDL.split(";"):
                    if statement.strip():
                        c.execute(statement)
                row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None or int(row[0]) != SCHEMA_VERSION:
                    for table in (*TABLES, "figures", "members"):
                        c.execute(f"DELETE FROM {table}")  # another version's rows: read again from the bundles
                    c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise WorkflowError(f"the results index {self.path} is damaged ({exc}). Fix: delete it (and its -wal/-shm "
                                "files); `make vllm-history REINDEX=1` rebuilds it from the bundles.") from exc

    # -- writing -----------------------------------------------------------------------------------

    def _known(self) -> dict[str, int]:
        known: dict[str, int] = {}
        for table in TABLES:
            known.update(self.conn.execute(f"SELECT path, stamp FROM {table}").fetchall())
        return known

    def _delete(self, c: sqlite3.Connection, path: str) -> None:
        for table in TABLES:
            c.execute(f"DELETE FROM {table} WHERE path = ?", (path,))

    def _insert(self, c: sqlite3.Connection, found: Found, row: Run | Comparison | Check) -> None:
        if isinstance(row, Run):
            values = [getattr(row, k) for k in RUN_COLUMNS]
            values[RUN_COLUMNS.index("shape")] = json.dumps(row.shape, sort_keys=True, default=str)
            cur = c.execute(f"INSERT INTO runs (stamp, {', '.join(RUN_COLUMNS)}) VALUES "
                            f"(?, {', '.join('?' * len(RUN_COLUMNS))})", [found.stamp, *values])
            c.executemany("INSERT INTO figures VALUES (?, ?, ?, ?, ?)",
                          [(cur.lastrowid, f.metric, f.value, f.lo, f.hi) for f in row.figures])
        elif isinstance(row, Comparison):
            cur = c.execute("INSERT INTO comparisons (path, stamp, created, label, verdict, exit_code, bisect, complete, "
                            "primary_metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (row.path, found.stamp, row.created, row.label, row.verdict, row.exit_code, row.bisect,
                             row.complete, json.dumps(row.primary, sort_keys=True)))
            parent = row.path.rpartition("/")[0]
            c.executemany("INSERT INTO members VALUES (?, ?, ?)",
                          [(cur.lastrowid, f"{parent}/{name}" if parent else name, arm) for name, arm in row.members])
        else:
            c.execute("INSERT INTO checks (path, stamp, created, run_path, verdict, exit_code, bisect) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (row.path, found.stamp, row.created, row.run, row.verdict, row.exit_code, row.bisect))

    def _read(self, found: Sequence[Found]) -> list[tuple[Found, Run | Comparison | Check | str]]:
        out: list[tuple[Found, Run | Comparison | Check | str]] = []
        for f in found:
            try:
                out.append((f, records.read(self.results / f.path, f.path, f.marker)))
            except WorkflowError as exc:
                out.append((f, str(exc)))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field of the wrong type
                out.append((f, f"{f.marker} has a field of an unexpected type ({type(exc).__name__}: {exc})"))
        return out

    def _store(self, parsed: Sequence[tuple[Found, Run | Comparison | Check | str]],
               removed: Sequence[str] = (), everything: bool = False) -> None:
        with _write(self.conn) as c:
            if everything:
                for table in (*TABLES, "figures", "members"):
                    c.execute(f"DELETE FROM {table}")
            for path in removed:
                self._delete(c, path)
            for found, row in parsed:
                if not everything:
                    self._delete(c, found.path)
                if isinstance(row, str):
                    c.execute("INSERT INTO skipped VALUES (?, ?, ?)", (found.path, found.stamp, row))
                else:
                    self._insert(c, found, row)

    def sync(self) -> SyncReport:
        """Read new and changed folders, drop the rows of folders that are gone."""
        on_disk = {f.path: f for f in scan(self.results)}
        known = self._known()
        changed = [f for p, f in on_disk.items() if known.get(p) != f.stamp]
        removed = [p for p in known if p not in on_disk]
        if changed or removed:
            self._store(self._read(changed), removed)
        return SyncReport(len(changed), len(removed), self.skipped())

    def rebuild(self) -> SyncReport:
        """Every folder read again (the index emptied in the same transaction)."""
        found = scan(self.results)
        self._store(self._read(found), everything=True)
        return SyncReport(len(found), 0, self.skipped())

    def record(self, folder: Path) -> str | None:
        """Index one folder just written (None when it is recorded, else why not)."""
        rel = folder.resolve().relative_to(self.results.resolve()).as_posix()
        for marker in records.MARKERS:
            try:
                st = os.stat(folder / marker)
            except OSError:
                continue
            found = Found(rel, marker, st.st_mtime_ns ^ st.st_size)
            parsed = self._read([found])
            self._store(parsed)
            row = parsed[0][1]
            return row if isinstance(row, str) else None
        return f"{rel} holds no {', '.join(records.MARKERS)}"

    # -- reading -----------------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(runs, A/B comparisons) in the index."""
        return (self.conn.execute("SELECT count(*) FROM runs").fetchone()[0],
                self.conn.execute("SELECT count(*) FROM comparisons").fetchone()[0])

    def skipped(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.conn.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall())

    def runs(self, where: str = "", params: Sequence[Any] = (), order: str = "created, path",
             limit: int | None = None) -> list[Run]:
        """Runs (with their figures) matching a WHERE clause over the runs table, oldest first."""
        sql = f"SELECT id, {', '.join(RUN_COLUMNS)} FROM runs {('WHERE ' + where) if where else ''} ORDER BY {order}"
        rows = self.conn.execute(sql, list(params)).fetchall()
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return self._with_figures(rows)

    def _with_figures(self, rows: Sequence[tuple[Any, ...]]) -> list[Run]:
        figs: dict[int, list[Figure]] = {}
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            for run_id, metric, value, lo, hi in self.conn.execute(
                    f"SELECT run_id, metric, value, lo, hi FROM figures WHERE run_id IN ({','.join('?' * len(chunk))})",
                    chunk):
                figs.setdefault(run_id, []).append(Figure(metric, value, lo, hi))
        out = []
        for r in rows:
            data = dict(zip(RUN_COLUMNS, r[1:]))
            data["shape"] = json.loads(data["shape"])
            data["complete"] = bool(data["complete"])
            data["project_dirty"] = None if data["project_dirty"] is None else bool(data["project_dirty"])
            out.append(Run(**data, figures=tuple(figs.get(r[0], ()))))
        return out

    def comparisons(self) -> list[dict[str, Any]]:
        """A/B comparisons, oldest first, with their members."""
        members: dict[int, list[tuple[str, str]]] = {}
        for cid, run_path, arm in self.conn.execute("SELECT comparison_id, run_path, arm FROM members"):
            members.setdefault(cid, []).append((run_path, arm))
        out = []
        for row in self.conn.execute("SELECT id, path, created, label, verdict, exit_code, bisect, complete, "
                                     "primary_metrics FROM comparisons ORDER BY created, path"):
            out.append({"path": row[1], "created": row[2], "label": row[3], "verdict": row[4], "exit_code": row[5],
                        "bisect": bool(row[6]), "complete": bool(row[7]), "primary": json.loads(row[8]),
                        "members": members.get(row[0], [])})
        return out

    def checks(self) -> list[dict[str, Any]]:
        cols = ("path", "created", "run_path", "verdict", "exit_code", "bisect")
        return [dict(zip(cols, r)) | {"bisect": bool(r[5])} for r in self.conn.execute(
            f"SELECT {', '.join(cols)} FROM checks ORDER BY created, path")]

    def ab_of(self, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
        """run path -> (comparison path, arm) for the runs that belong to an A/B comparison."""
        out: dict[str, tuple[str, str]] = {}
        for start in range(0, len(paths), 900):
            chunk = list(paths[start:start + 900])
            for run_path, arm, cpath in self.conn.execute(
                    "SELECT m.run_path, m.arm, c.path FROM members m JOIN comparisons c ON c.id = m.comparison_id "
                    f"WHERE m.run_path IN ({','.join('?' * len(chunk))})", chunk):
                out[run_path] = (cpath, arm)
        return out

    def dump(self) -> Mapping[str, list[tuple[Any, ...]]]:
        """Every table's rows in a stable order (to compare two indexes)."""
        return {t: self.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("meta", *TABLES, "figures", "members")}


def record(results: Path, folder: Path) -> None:
    """Record a folder just written into the results index; a problem is said, never raised (the
    bundle on disk is what counts, and the next `make vllm-history` picks it up)."""
    try:
        with Index(results) as index:
            why = index.record(folder)
    except (WorkflowError, sqlite3.Error, OSError, ValueError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    if why:
        print(f"⚠️  not recorded in the results index ({why}); `make vllm-history` reads it again.")
