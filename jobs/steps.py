"""The one step runner: every step of `mathmine iterate` is declared once and run through here.

A `Step` names what it reads (other steps), the settings it depends on (sections such as
`recall`, or single keys such as `classify.epoch`), any other inputs (files, annotation digests)
and its output, relative to the run folder. The runner derives the step's fingerprint from that
declaration alone (its own name, the fingerprints of the steps it reads, those settings' values,
the inputs), skips a step whose fingerprint is recorded in `WORK/state.json` and whose output and
stats are there, and otherwise runs it, writes its stats as `_stats.json` into its output (beside
it, as `_<name>.stats.json`, for a one-file output such as report.html) and records it. The
summary and the reports read those stats files; state.json only says what finished under what.

Everything goes through `pipeline.fs.Store`, so the run folder may be local or on an object store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from pipeline import fs
from pipeline.config import Settings
from pipeline.spark import ACTIVITY, progress

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_VERSION = 2


class StopRequested(Exception):
    """Raised after the step named by `stop_after` (tests use it to stop a run midway)."""


@dataclass
class Step:
    name: str  # e.g. "iter-01/train"
    output: str  # relative to the run folder: the folder (or one file) the step publishes
    run: Callable[[], dict[str, Any]]  # does the work; returns the step's stats
    reads: Sequence[str] = ()  # the steps whose outputs it reads
    settings: Sequence[str] = ()  # settings sections or dotted keys it depends on
    inputs: Sequence[Any] = ()  # anything else it depends on (input files' identities, digests)
    # Resumes inside itself (ingest skips finished WARCs): run every time; its fingerprint then
    # also covers `identity(stats)`, what it produced, so a new WARC redoes what reads the pages.
    always: bool = False
    identity: Callable[[dict[str, Any]], Any] | None = None
    also: Sequence[str] = field(default_factory=tuple)  # other files it writes (model.bin, ...)
    stats: str = ""  # where its stats go, relative to the run folder; default: see `stats_path`


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def setting_values(settings: Settings, keys: Sequence[str]) -> dict[str, Any]:
    """The values of settings sections or dotted keys, as plain data (for a fingerprint)."""
    out: dict[str, Any] = {}
    for key in keys:
        value: Any = settings
        for part in key.split("."):
            value = getattr(value, part)
        out[key] = {f.name: getattr(value, f.name) for f in fields(value)} if is_dataclass(value) else value
    return out


def stats_path(work: str, output: str) -> str:
    """Where a step's stats live: `<output>/_stats.json`, or `_<stem>.stats.json` beside a file."""
    base = posixpath.basename(output)
    if "." in base:
        return fs.join(work, posixpath.dirname(output), f"_{base.split('.')[0]}.stats.json")
    return fs.join(work, output, "_stats.json")


class Runner:
    """Runs declared steps once per fingerprint over one run folder; counts what it skipped."""

    def __init__(
        self,
        store: fs.Store,
        work: str,
        settings: Settings,
        force: bool = False,
        stop_after: str | None = None,
    ) -> None:
        self.store, self.work, self.settings = store, work, settings
        self.force, self.stop_after = force, stop_after
        self.state_path = fs.join(work, STATE_FILE)
        self.state: dict[str, Any] = read_state(store, work)
        self.fingerprints: dict[str, str] = {}
        self.ran: list[str] = []
        self.skipped: list[str] = []
        self._stats: dict[str, dict[str, Any]] = {}

    def declared_fingerprint(self, step: Step) -> str:
        missing = [r for r in step.reads if r not in self.fingerprints]
        if missing:
            raise KeyError(f"step {step.name} reads {', '.join(missing)}, which did not run before it")
        return fingerprint(
            step.name,
            [self.fingerprints[r] for r in step.reads],
            setting_values(self.settings, step.settings),
            list(step.inputs),
        )

    def finished(self, step: Step) -> bool:
        out = fs.join(self.work, step.output)
        present = (
            self.store.exists(out) if "." in posixpath.basename(step.output) else self.store.published(out)
        )
        return (
            present
            and all(self.store.exists(fs.join(self.work, f)) for f in step.also)
            and self.store.exists(self.stats_file(step))
        )

    def stats_file(self, step: Step) -> str:
        return fs.join(self.work, step.stats) if step.stats else stats_path(self.work, step.output)

    def run(self, step: Step) -> dict[str, Any]:
        declared = self.declared_fingerprint(step)
        entry = self.state["steps"].get(step.name, {})
        where = self.stats_file(step)
        same_declaration = not self.force and entry.get("declared") == declared
        if step.always or not same_declaration or not self.finished(step):
            started = time.monotonic()
            progress(f"step {step.name}: running")
            ACTIVITY["now"] = f"step {step.name}"
            try:
                stats = step.run()
            finally:
                ACTIVITY["now"] = ""
            stats["step_seconds"] = round(time.monotonic() - started, 2)
            self.store.write_json(where, stats, sort_keys=False)
            produced = fingerprint(declared, step.identity(stats)) if step.identity else declared
            if step.always and same_declaration and entry.get("fingerprint") == produced:
                # ran and found nothing new (ingest: every WARC done before): counts as done
                self.skipped.append(step.name)
                progress(f"step {step.name}: nothing new")
            else:
                self.state["steps"][step.name] = {
                    "declared": declared,
                    "fingerprint": produced,
                    "stats": where[len(self.work.rstrip("/")) + 1 :],
                }
                self.store.write_json(self.state_path, self.state)
                self.ran.append(step.name)
                progress(f"step {step.name}: done in {stats['step_seconds']} s")
        else:
            stats = self.store.read_json(where)
            self.skipped.append(step.name)
        self._stats[step.name] = stats
        self.fingerprints[step.name] = self.state["steps"][step.name]["fingerprint"]
        if self.stop_after == step.name:
            raise StopRequested(step.name)
        return stats

    def stats(self, name: str) -> dict[str, Any]:
        """The stats of a step of this run (read from its stats file when it ran in an earlier one)."""
        if name not in self._stats:
            self._stats[name] = read_step_stats(self.store, self.work, name, self.state)
        return self._stats[name]


def read_state(store: fs.Store, work: str) -> dict[str, Any]:
    """The run folder's state.json (empty when there is none, or of an older version). A damaged one
    is a UserError naming the file: guessing would redo, or worse skip, finished steps."""
    from pipeline.config import UserError

    path = fs.join(work, STATE_FILE)
    if not store.exists(path):
        return {"version": STATE_VERSION, "steps": {}}
    try:
        state = store.read_json(path)
    except ValueError as exc:  # not JSON, or not UTF-8 (both are ValueErrors)
        reason = " ".join(str(exc).split())
        raise UserError(f"{path}: not a valid run state ({reason}); restore it, or delete it to redo "
                        "every step") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a valid run state (a JSON {type(state).__name__}, not an object); "
                        "restore it, or delete it to redo every step")
    if state.get("version") != STATE_VERSION:
        return {"version": STATE_VERSION, "steps": {}}
    steps = state.get("steps")
    if not isinstance(steps, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("stats"), str) for entry in steps.values()
    ):
        raise UserError(f"{path}: not a valid run state ('steps' must map each step to its entry); "
                        "restore it, or delete it to redo every step")
    return state


def read_step_stats(
    store: fs.Store, work: str, name: str, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A finished step's stats, from the file state.json points to."""
    state = state if state is not None else read_state(store, work)
    entry = state["steps"].get(name)
    if not entry:
        raise KeyError(f"{work}: step {name} has not finished")
    return store.read_json(fs.join(work, entry["stats"]))
