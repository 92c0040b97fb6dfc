"""`mathmine annotate serve`: the annotation review page (DeepSeekMath section 2.1, step 5).

A small Flask application over one run folder (local or s3://, read through `pipeline.fs.Store`)
and the checkout's `annotation/` folder. An annotator goes through the latest iteration's flagged
domains with the keyboard, sees each section's pages, scores and examples, and marks a section
math / not math / exclude; each decision is one line appended to
`annotation/url_patterns/<annotator>.tsv`, checked by the same linter as `mathmine annotations
lint` first. What a line would do (matched, recalled, excluded, added to the next seed) is the
loop's own tally (`pipeline.review`, which calls `pipeline.loop.tally_patterns`).

Security, because annotators open crawled text in their browser: templates autoescape everything,
nothing from the crawl is ever a live link, a strict Content-Security-Policy allows only this
server's own script and style files, every state change is a POST with a CSRF token, writes go only
to one file name derived from a validated annotator name inside `annotation/url_patterns/`, and
the server binds to 127.0.0.1 (with a Host header check against DNS rebinding) unless
`--allow-remote` is given, which then requires an access token.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hmac
import ipaddress
import os
import re
import secrets
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import fs
from pipeline.annotation import (
    LABELS,
    Pattern,
    PatternMatcher,
    check_pattern,
    load_patterns,
    pattern_files,
    visible,
)
from pipeline.config import DomainSettings, Settings

if TYPE_CHECKING:
    from flask import Flask

    from pipeline.review import Decision, RunTables

# pipeline.review (pyarrow, the loop's rules) and Flask are imported where they are used: the CLI
# registers this command for every `mathmine` run, which should not pay for them.

DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# A name becomes a file name: letters, digits, '.', '_', '-'; no leading dot (hidden files are not
# read by the loop), no '/' or '..' (no path traversal), short enough for any file system.
ANNOTATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
ACCESS_COOKIE = "mathmine_access"
RELOAD_CHECK_S = 2.0  # how often a request looks whether a rerun changed state.json
LOCK_WAIT_S = 10.0


class AnnotatorNameError(ValueError):
    """An annotator name that cannot be a file name under annotation/url_patterns/."""


def annotator_file(name: str) -> str:
    """`<name>.tsv` for a valid annotator name, else AnnotatorNameError saying what is allowed."""
    if not isinstance(name, str) or not ANNOTATOR_NAME.fullmatch(name) or name.endswith(".") or ".." in name:
        raise AnnotatorNameError(
            f"bad annotator name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names the file annotation/url_patterns/<name>.tsv)")
    return f"{name}.tsv"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------------ the workspace


@dataclass
class Workspace:
    """What one server reads and writes: the run folder, the annotator's pattern folder (the only
    place it writes) and the other pattern folders the loop reads (the sample's demo annotator)."""

    settings: Settings
    store: fs.Store
    work: str
    annotator: str
    patterns_dir: Path
    other_dirs: list[Path] = field(default_factory=list)
    rerun_command: str = ""
    _run: RunTables | None = None
    _checked_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _read_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def file_name(self) -> str:
        return annotator_file(self.annotator)

    @property
    def my_file(self) -> Path:
        return self.patterns_dir / self.file_name

    @property
    def limits(self) -> DomainSettings:
        return self.settings.domains

    def folders(self) -> list[Path]:
        return [self.patterns_dir, *self.other_dirs]

    def run(self) -> RunTables:
        """The run's tables, reloaded when a rerun has changed state.json since."""
        from pipeline.review import RunTables, state_digest

        with self._read_lock:
            now = time.monotonic()
            stale = self._run is None or (now - self._checked_at > RELOAD_CHECK_S
                                          and state_digest(self.store, self.work) != self._run.state_digest)
            if stale:
                self._run = RunTables(self.store, self.work)
            self._checked_at = now
            assert self._run is not None
            return self._run

    def patterns(self) -> tuple[list[Pattern], list[str]]:
        """The lint-clean lines the loop reads now (every folder) and `path:line: reason` for each
        bad one, as `mathmine iterate` would list them (it refuses to start on any)."""
        patterns: list[Pattern] = []
        errors: list[str] = []
        for folder in self.folders():
            if folder.exists():
                found, bad = load_patterns(folder)
                patterns += found
                errors += [f"{folder / e.file}:{e.line}: {e.reason}" for e in bad]
        return patterns, errors

    def decisions(self) -> list[Decision]:
        from pipeline.review import read_decisions

        out: list[Decision] = []
        for folder in self.folders():
            out += read_decisions(folder)[0]
        return out

    def shown(self, pattern: Pattern) -> str:
        """A pattern's file as a path the annotator can open."""
        for folder in self.folders():
            if (folder / pattern.file).exists():
                return str(folder / pattern.file)
        return pattern.file

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time: threads of this server (a lock) and other servers on the same
        checkout (the folder's lock file, `Store.lock`, retried for a few seconds)."""
        with self._lock:  # (Store.lock makes the folder when it is not there yet)
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    with self.store.lock(str(self.patterns_dir), "mathmine annotate serve"):
                        yield
                    return
                except fs.FolderLocked:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)


class DecisionRefused(Exception):
    """A decision that is not written: lint rejects the line, or the file is unreadable."""

    def __init__(self, message: str, lint: list[str] | None = None) -> None:
        super().__init__(message)
        self.lint = lint or []


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecisionRefused(f"{path} is not valid UTF-8: fix it by hand first") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _lint_errors(ws: Workspace, lines: list[str] | None) -> set[str]:
    """The linter's complaints about the annotator's folder if the annotator's file held `lines`
    (None: no such file): the folder is copied to a temp folder with that file and checked with
    `pipeline.annotation.load_patterns`, as `mathmine annotations lint` checks it (duplicates and
    conflicts are found across files)."""
    with tempfile.TemporaryDirectory(prefix="mathmine-annotate-") as tmp:
        for other in pattern_files(ws.patterns_dir) if ws.patterns_dir.exists() else []:
            if other.name != ws.file_name:
                (Path(tmp) / other.name).write_bytes(other.read_bytes())
        if lines is not None:
            (Path(tmp) / ws.file_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        _, errors = load_patterns(tmp)
    return {f"{ws.patterns_dir / e.file}:{e.line}: {e.reason}" for e in errors}


def _lint_as_written(ws: Workspace, before: list[str] | None, after: list[str]) -> list[str]:
    """What lint would newly reject if the annotator's file went from `before` to `after`: on the
    new line, or on another annotator's line it now duplicates or conflicts with."""
    return sorted(_lint_errors(ws, after) - _lint_errors(ws, before))


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def format_line(pattern: str, label: str, annotator: str, note: str) -> str:
    """A line in the url_patterns syntax; "not math" is a comment the loop skips."""
    from pipeline.review import NOT_MATH

    if label == NOT_MATH:
        return f"# {NOT_MATH}\t{pattern}\t{annotator}\t{note}"
    return f"{pattern}\t{label}\t{annotator}\t{note}"


def decide(ws: Workspace, pattern: str, label: str, host: str = "", prefix: str = "") -> dict[str, Any]:
    """Write one decision to the annotator's file (replacing the annotator's earlier decision on the
    same section or pattern); DecisionRefused when lint would reject the line."""
    from pipeline.review import (
        DECISION_LABELS,
        NOT_MATH,
        NOTE_ROW,
        decision_for,
        domain_view,
        read_decisions,
        row_key,
    )

    if label not in DECISION_LABELS:
        raise DecisionRefused(f"unknown decision {label!r} (math, not math or exclude)")
    pattern = pattern.strip()
    reason = check_pattern(pattern)
    if reason:
        raise DecisionRefused(f"pattern {pattern!r}: {reason}", [reason])
    run = ws.run()
    note = f"mathmine annotate {_timestamp()}"
    section = None
    if host or prefix:
        domain = _domain_of(run, host)
        if domain:
            section = domain_view(run, domain, PatternMatcher([]), ws.limits, with_examples=False).section(
                host, prefix)
        if section is None:
            raise DecisionRefused(f"no section {host}{prefix} in iteration {run.iteration}")
        note += f"; {section.pages} pages, {section.recalled} recalled{NOTE_ROW}{row_key(host, prefix)}"
    line = format_line(pattern, label, ws.annotator, note)
    with ws.writing():
        lines = _read_lines(ws.my_file)
        original = list(lines) if ws.my_file.exists() else None
        mine = read_decisions(ws.patterns_dir)[0] if ws.my_file.exists() else []
        mine = [d for d in mine if d.file == ws.file_name]
        earlier = decision_for(mine, host, prefix) if section is not None else None
        earlier = earlier or next((d for d in reversed(mine) if d.pattern == pattern), None)
        before = None
        if earlier is not None and earlier.line <= len(lines):
            number, before = earlier.line, lines[earlier.line - 1]
            lines[number - 1] = line
        else:
            if not lines:
                lines.append(f"# URL patterns of {ws.annotator}, written by `mathmine annotate serve` "
                             "(annotation/README.md); pattern<TAB>label<TAB>annotator<TAB>note")
            lines.append(line)
            number = len(lines)
        if label != NOT_MATH:
            refused = _lint_as_written(ws, original, lines)
            if refused:
                raise DecisionRefused("lint rejects the line, nothing written: " + "; ".join(refused),
                                      refused)
        ws.store.write_text(str(ws.my_file), "\n".join(lines) + "\n")
    return {"line": number, "text": line, "before": before, "label": label, "pattern": pattern,
            "file": str(ws.my_file)}


def undo(ws: Workspace, number: int, text: str, before: str | None) -> dict[str, Any]:
    """Take a decision back: the line `number` (found by its exact text if the file moved) is
    removed, or restored to `before` when the decision replaced an earlier one."""
    with ws.writing():
        lines = _read_lines(ws.my_file)
        if not (1 <= number <= len(lines) and lines[number - 1] == text):
            same = [i + 1 for i, old in enumerate(lines) if old == text]
            if not same:
                raise DecisionRefused(f"{ws.my_file}: that line is no longer there (edited by hand?)")
            number = same[-1]
        if before:
            original = list(lines)
            lines[number - 1] = before
            if _lint_as_written(ws, original, lines):
                del lines[number - 1]  # the old line no longer lints (someone wrote it since): drop both
                before = None
        else:
            del lines[number - 1]
        ws.store.write_text(str(ws.my_file), "\n".join(lines) + ("\n" if lines else ""))
    return {"line": number, "restored": before}


def _domain_of(run: RunTables, host: str) -> str:
    pages = run.by_host.get(host)
    return pages[0].domain if pages else ""


def preview_payload(ws: Workspace, pattern: str, label: str, host: str = "", prefix: str = ""
                    ) -> dict[str, Any]:
    """What a decision would do, for the page: the loop's tally for the line as it would be
    written (the file and line number it would get), overlaps, and the linter's verdict."""
    from pipeline.review import DECISION_LABELS, NOT_MATH, decision_for, preview, read_decisions

    pattern = pattern.strip()
    if label not in DECISION_LABELS:
        label = "math"
    reason = check_pattern(pattern)
    if reason:
        return {"pattern": pattern, "label": label, "lint": [reason], "ok": False}
    run = ws.run()
    patterns, _ = ws.patterns()
    lines = _read_lines(ws.my_file)
    mine = [d for d in read_decisions(ws.patterns_dir)[0] if d.file == ws.file_name] if lines else []
    earlier = decision_for(mine, host, prefix) if host or prefix else None
    earlier = earlier or next((d for d in reversed(mine) if d.pattern == pattern), None)
    number = earlier.line if earlier else max(len(lines), 1) + 1
    # "not math" writes no pattern; its preview counts the pages as an exclude line would.
    counted_as = label if label in LABELS else "exclude"
    candidate = Pattern(ws.file_name, number, pattern, counted_as, ws.annotator)
    result = preview(run, patterns, candidate, ws.annotator, (host, prefix) if host or prefix else None,
                     ws.shown)
    lint: list[str] = []
    if label != NOT_MATH:
        trial = list(lines) or ["# header"]
        line = format_line(pattern, label, ws.annotator, "preview")
        if earlier and earlier.line <= len(trial):
            trial[earlier.line - 1] = line
        else:
            trial.append(line)
        lint = _lint_as_written(ws, lines if ws.my_file.exists() else None, trial)
    return {
        "ok": not lint, "pattern": pattern, "label": label, "where": f"{ws.my_file}:{number}",
        "replaces": None if earlier is None else f"{earlier.label} at line {earlier.line}",
        "matched": result.matched, "recalled": result.recalled, "excluded": result.excluded,
        "added": result.added if label == "math" else 0, "warnings": result.warnings, "lint": lint,
        "overlaps": result.overlaps, "section_pages": result.section_pages,
        "section_matched": result.section_matched, "iteration": run.iteration,
    }


# ----------------------------------------------------------------------------------- the app


def _plot(series: dict[str, list[Any]], width: int = 420, height: int = 160, top: float | None = None
          ) -> dict[str, Any]:
    """Geometry of a small line plot (polyline points per series, axis ticks) for the template: the
    page draws it as inline SVG, so the CSP needs no image source and no script."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = top or max(values, default=1) or 1
    n = max((len(vs) for vs in series.values()), default=1)
    left, right, bottom, upper = 40, width - 10, height - 24, 10

    def x(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return bottom - (bottom - upper) * v / top

    lines = []
    for name, vs in series.items():
        points = [(round(x(i), 1), round(y(v), 1)) for i, v in enumerate(vs) if v is not None]
        lines.append({"name": name, "points": " ".join(f"{a},{b}" for a, b in points), "dots": points})
    return {"width": width, "height": height, "lines": lines, "top": top, "bottom": bottom, "upper": upper,
            "left": left, "right": right, "xs": [(round(x(i), 1), i + 1) for i in range(n)]}


def create_app(
    settings: Settings,
    work: str,
    annotator: str,
    *,
    annotation_dir: str | Path | None = None,
    other_pattern_dirs: list[Path] | None = None,
    access_token: str | None = None,
    trusted_hosts: list[str] | None = None,
    rerun_command: str = "",
) -> Flask:
    """The review application for one run folder and one annotator (AnnotatorNameError for a name
    that cannot be a file name). `annotation_dir` defaults to the loop's (`annotation.dir`);
    `other_pattern_dirs` defaults to the sample's demo annotator folder when the run is the bundled
    sample, as the loop reads it. `access_token`: every request must carry it (remote binds).
    `trusted_hosts`: the Host header names accepted (default: loopback names)."""
    from flask import Flask, abort, jsonify, make_response, redirect, render_template, request, session

    from pipeline.review import (
        HISTOGRAM_BINS,
        ReviewError,
        agreement,
        decision_for,
        domain_view,
        last_run_lines,
        line_effects,
        loop_progress,
        pattern_changes,
        queue,
    )

    annotator_file(annotator)
    store = fs.Store(settings.storage)
    work = fs.absolute(work)
    from jobs.iterate import annotation_dir as loop_annotation_dir

    folder = Path(annotation_dir) if annotation_dir is not None else loop_annotation_dir(settings)
    cleanup = contextlib.ExitStack()
    if other_pattern_dirs is None:
        other_pattern_dirs = _sample_pattern_dirs(settings, store, work, cleanup)
    ws = Workspace(settings, store, work, annotator, folder / "url_patterns", list(other_pattern_dirs),
                   rerun_command or _rerun_command(work, None, []))
    clash = [str(d / ws.file_name) for d in ws.other_dirs if (d / ws.file_name).exists()]
    if clash:
        raise AnnotatorNameError(f"annotator {annotator!r}: the loop already reads {clash[0]}; the loop "
                                 "refuses two pattern files of one name, pick another name")

    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # per server start: sessions and CSRF tokens die with it
        SESSION_COOKIE_NAME="mathmine_review",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        TRUSTED_HOSTS=trusted_hosts if trusted_hosts is not None else [*LOOPBACK_NAMES, "[::1]"],
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # URLs, hosts, paths and patterns from the crawl are shown with invisible characters spelled
    # out (a bidi override in a URL would otherwise reorder what the annotator reads).
    app.jinja_env.filters["visible"] = visible
    app.extensions["mathmine_workspace"] = ws
    app.extensions["mathmine_cleanup"] = cleanup

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {"csrf_token": csrf_token, "annotator": ws.annotator, "work": ws.work,
                "my_file": str(ws.my_file)}

    @app.before_request
    def guard() -> Any:
        if access_token is not None and request.endpoint not in ("login", "static"):
            given = request.cookies.get(ACCESS_COOKIE, "")
            if not hmac.compare_digest(given.encode(), access_token.encode()):
                asked = request.args.get("token", "")
                if asked and hmac.compare_digest(asked.encode(), access_token.encode()):
                    response = redirect(request.path)
                    response.set_cookie(ACCESS_COOKIE, access_token, httponly=True, samesite="Strict")
                    return response
                return make_response(render_template("login.html", failed=False, next=request.path), 401)
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                abort(403, "cross-origin request")
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            expected = session.get("csrf", "")
            if not expected or not hmac.compare_digest(str(sent).encode(), expected.encode()):
                abort(403, "missing or wrong CSRF token: reload the page")
        return None

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(409)
    def error(exc: Any) -> Any:
        message = getattr(exc, "description", str(exc))
        code = getattr(exc, "code", 500)
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), code
        if request.url_rule is None and code == 400:  # no URL adapter (an untrusted Host): plain text
            return make_response((message, code, {"Content-Type": "text/plain; charset=utf-8"}))
        return render_template("error.html", code=code, message=message), code

    @app.errorhandler(ReviewError)
    def no_run(exc: ReviewError) -> Any:
        return render_template("error.html", code=503, message=str(exc)), 503

    @app.route("/favicon.ico")
    def favicon() -> Any:
        return "", 204

    @app.route("/login", methods=["POST"])
    def login() -> Any:
        token = request.form.get("token", "")
        target = request.form.get("next", "/")
        if not target.startswith("/") or target.startswith("//") or "\\" in target:  # no open redirect
            target = "/"
        if access_token is None or not hmac.compare_digest(token.encode(), access_token.encode()):
            return make_response(render_template("login.html", failed=True, next=target), 401)
        response = redirect(target)
        response.set_cookie(ACCESS_COOKIE, access_token, httponly=True, samesite="Strict")
        return response

    def matcher_and_errors() -> tuple[PatternMatcher, list[Pattern], list[str]]:
        patterns, errors = ws.patterns()
        return PatternMatcher(patterns), patterns, errors

    @app.route("/")
    def index() -> Any:
        run = ws.run()
        matcher, _, errors = matcher_and_errors()
        rows = queue(run, matcher, ws.decisions(), ws.annotator, ws.limits)
        only_todo = request.args.get("todo") == "1"
        host_filter = request.args.get("host", "").strip().lower()
        try:
            min_share = float(request.args.get("min_share", "") or 0) / 100
        except ValueError:
            min_share = 0.0
        shown = [r for r in rows if (not only_todo or r.todo) and r.fraction >= min_share
                 and (not host_filter or any(host_filter in h for h in r.hosts))]
        return render_template("queue.html", rows=shown, total=len(rows), run=run, lint_errors=errors,
                               only_todo=only_todo, host_filter=host_filter,
                               min_share=request.args.get("min_share", ""), rerun=ws.rerun_command)

    @app.route("/domain/<domain>")
    def domain(domain: str) -> Any:
        run = ws.run()
        if domain not in run.by_domain:
            abort(404, f"no domain {domain!r} in iteration {run.iteration}")
        matcher, _, errors = matcher_and_errors()
        view = domain_view(run, domain, matcher, ws.limits)
        decisions = ws.decisions()
        mine = {s.key: decision_for(decisions, s.host, s.prefix, ws.annotator) for s in view.sections}
        names = sorted({d.annotator for d in decisions} - {ws.annotator})
        others = {s.key: [d for d in (decision_for(decisions, s.host, s.prefix, a) for a in names) if d]
                  for s in view.sections}
        lines = _read_lines(ws.my_file)
        line_text = {k: (lines[d.line - 1] if d and d.file == ws.file_name and d.line <= len(lines) else "")
                     for k, d in mine.items()}
        order = [d.domain for d in queue(run, matcher, decisions, ws.annotator, ws.limits)]
        at = order.index(domain) if domain in order else -1
        previous = order[at - 1] if at > 0 else None
        following = order[at + 1] if 0 <= at < len(order) - 1 else (order[0] if at < 0 and order else None)
        threshold = settings.recall.threshold if settings.recall.rule == "threshold" else None
        return render_template("domain.html", view=view, run=run, mine=mine, others=others,
                               line_text=line_text, previous=previous, following=following,
                               lint_errors=errors, bins=HISTOGRAM_BINS, threshold=threshold)

    @app.route("/page")
    def page() -> Any:
        run = ws.run()
        found = run.by_id.get(request.args.get("id", ""))
        if found is None:
            abort(404, "no such page in this run")
        matcher, _, _ = matcher_and_errors()
        text = run.text(found)
        return render_template("page.html", page=found, text=text, run=run,
                               lines=[(f"{p.file}:{p.line}", p.glob, p.label, p.annotator)
                                      for p in matcher.matching(found.host, found.path)])

    @app.route("/progress")
    def progress() -> Any:
        run = ws.run()
        _, patterns, errors = matcher_and_errors()
        iterations = loop_progress(store, work, run.state)
        added, removed = pattern_changes(last_run_lines(store, work, run.state), patterns)
        effects, warnings = line_effects(run, patterns, ws.shown)
        plot = _plot({"seed": [i.seed for i in iterations], "recalled": [i.recalled for i in iterations],
                      "added by patterns": [i.additions for i in iterations]})
        rates = _plot({"held-out AUC": [i.auc for i in iterations],
                       "recall against the labels": [i.label_recall for i in iterations],
                       "overlap with the previous iteration": [i.overlap for i in iterations]}, top=1.0)
        return render_template("progress.html", iterations=iterations, plots=[plot, rates], added=added,
                               removed=removed, effects=effects, warnings=warnings, lint_errors=errors,
                               rerun=ws.rerun_command, run=run)

    @app.route("/agreement")
    def agreement_page() -> Any:
        run = ws.run()
        _, patterns, _ = matcher_and_errors()
        decisions = ws.decisions()
        everyone = sorted({d.annotator for d in decisions})
        wanted = [a for a in request.args.getlist("a") if a in everyone] or everyone
        names, differ, compared = agreement(run, decisions, patterns, wanted, ws.limits)
        return render_template("agreement.html", names=names, everyone=everyone, differ=differ,
                               compared=compared, run=run)

    @app.route("/api/preview")
    def api_preview() -> Any:
        return jsonify(preview_payload(ws, request.args.get("pattern", ""), request.args.get("label", "math"),
                                       request.args.get("host", ""), request.args.get("prefix", "")))

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, "send a JSON object")
        return data

    @app.route("/api/decide", methods=["POST"])
    def api_decide() -> Any:
        data = body()
        try:
            written = decide(ws, str(data.get("pattern", "")), str(data.get("label", "")),
                             str(data.get("host", "")), str(data.get("prefix", "")))
        except DecisionRefused as exc:
            return jsonify({"error": str(exc), "lint": exc.lint}), 409
        return jsonify({"ok": True, **written, "coverage": _coverage(ws, str(data.get("host", "")))})

    @app.route("/api/undo", methods=["POST"])
    def api_undo() -> Any:
        data = body()
        try:
            number = int(data.get("line", 0))
        except (TypeError, ValueError):
            abort(400, "line must be a number")
        before = data.get("before")
        try:
            done = undo(ws, number, str(data.get("text", "")), str(before) if before else None)
        except DecisionRefused as exc:
            return jsonify({"error": str(exc)}), 409
        return jsonify({"ok": True, **done, "coverage": _coverage(ws, str(data.get("host", "")))})

    return app


def _coverage(ws: Workspace, host: str) -> list[dict[str, Any]]:
    """The sections of a host's domain with what the pattern files cover now (after a write)."""
    from pipeline.review import domain_view

    run = ws.run()
    domain = _domain_of(run, host)
    if not domain:
        return []
    patterns, _ = ws.patterns()
    view = domain_view(run, domain, PatternMatcher(patterns), ws.limits, with_examples=False)
    return [{"key": s.key, "matched": s.matched, "pages": s.pages, "covered": s.covered,
             "in_queue": s.in_queue} for s in view.sections]


def _sample_pattern_dirs(settings: Settings, store: fs.Store, work: str, stack: contextlib.ExitStack
                         ) -> list[Path]:
    """The sample demo annotator's folder, when the loop reads it for this run (as `gather_inputs`
    does: the bundled sample, `annotation.sample_patterns` on)."""
    if settings.input or not settings.annotation.sample_patterns or not store.exists(fs.join(work, "sample")):
        return []
    from jobs.iterate import sample_manifest

    rel = sample_manifest(store, work)["url_patterns"]
    return [Path(stack.enter_context(store.local_folder(fs.join(work, "sample", rel))))]


def _rerun_command(work: str, conf: str | None, overrides: list[str]) -> str:
    parts = ["mathmine", "iterate", "--work", work]
    if conf:
        parts += ["--conf", conf]
    for item in overrides:
        parts += ["--set", item]
    return " ".join(shlex.quote(p) for p in parts)


# ----------------------------------------------------------------------------- serve and CLI


def serve(settings: Settings, work: str, annotator: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          allow_remote: bool = False, token: str | None = None, rerun_command: str = "") -> int:
    """Run the review page until interrupted. A non-loopback `host` needs `allow_remote`, and then
    every request must carry an access token (printed, or `token` / $MATHMINE_ANNOTATE_TOKEN)."""
    from werkzeug.serving import make_server

    remote = not is_loopback(host)
    if remote and not allow_remote:
        raise PermissionError(
            f"refusing to listen on {host}: the review page shows crawled text and writes pattern files; "
            "it binds to 127.0.0.1 unless you pass --allow-remote (then an access token is required)")
    if remote:
        token = token or os.environ.get("MATHMINE_ANNOTATE_TOKEN") or secrets.token_urlsafe(24)
    app = create_app(settings, work, annotator, access_token=token if remote else None,
                     trusted_hosts=[] if remote else None, rerun_command=rerun_command)
    ws: Workspace = app.extensions["mathmine_workspace"]
    server = make_server(host, port, app, threaded=True)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{server.server_port}/"
    print(f"mathmine annotate: reviewing {ws.work} as {annotator}; decisions go to {ws.my_file}")
    print(f"  open {url}" + (f"?token={token}" if remote else "") + "   (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["mathmine_cleanup"].close()
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `mathmine annotate serve` on the CLI's subparsers."""
    from jobs.cli import _common

    parser = subparsers.add_parser("annotate", help="the annotation review page (a local web app)")
    sub = parser.add_subparsers(dest="annotate_command", metavar="serve", required=True)
    p = sub.add_parser("serve", help="review the latest iteration's flagged domains in a browser")
    p.add_argument("--work", help="run folder, local or s3:// (default: work_dir from config)")
    p.add_argument("--annotator", help="your name; decisions go to annotation/url_patterns/NAME.tsv "
                                       "(default $MATHMINE_ANNOTATOR, else your user name)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"default {DEFAULT_PORT}; 0 picks a free one")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host; every request then needs the printed access token")
    _common(p)
    return parser


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `mathmine annotate serve` from parsed arguments; the exit status."""
    from pipeline.review import ReviewError

    annotator = args.annotator or os.environ.get("MATHMINE_ANNOTATOR") or getpass.getuser()
    work = args.work or settings.work_dir
    rerun = _rerun_command(fs.absolute(work), getattr(args, "conf", None),
                           list(getattr(args, "overrides", [])))
    try:
        annotator_file(annotator)
        return serve(settings, work, annotator, args.host, args.port, args.allow_remote, rerun_command=rerun)
    except (AnnotatorNameError, PermissionError, ReviewError) as exc:
        print(f"mathmine: {exc}", file=sys.stderr)
        return 2
