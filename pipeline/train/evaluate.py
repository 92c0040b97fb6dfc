"""Evaluation: answer extraction, math answer checking, pass@k and maj@k (DESIGN.md section 6).

Answer checking is a cheap normalized-string / exact-number fast path first, then math-verify
(sympy) for everything else. math-verify's own timeouts use SIGALRM, which fails in threads and
misbehaves in Spark workers, so it runs with them disabled in a separate worker *process* that is
killed when a call passes its deadline: a pathological answer (`9^{9^{9^9}}`) costs one deadline and
one worker restart, never a hang. Workers are plain subprocesses (they work inside daemonic pool and
Spark workers), reused across calls, one per concurrently checking thread; this module never imports
math-verify or sympy itself.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from pipeline.config import UserError

# ---------------------------------------------------------------------------------------------------
# pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021)."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i): no huge binomials, no cancellation.
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


# ---------------------------------------------------------------------------------------------------
# Answer extraction

_BOXED = re.compile(r"\\(?:boxed|fbox)\b")
_ANSWER_IS = re.compile(r"(?i)\bthe (?:final )?answer is\b[:\s]*")
_NUMBER_IN_TEXT = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:/\d+)?")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at text[start] and the index after it, or None."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and text[i - 1 : i] != "\\":
            depth += 1
        elif text[i] == "}" and text[i - 1 : i] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def _last_boxed(text: str) -> str | None:
    for match in reversed(list(_BOXED.finditer(text))):
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if text[rest : rest + 1] == "{":
            group = _braced(text, rest)
            if group is not None:
                return group[0]
        elif m := re.match(r"[^\s$]+", text[rest:]):  # "\boxed 5"
            return m.group(0)
    return None


def _clean(answer: str) -> str:
    """Drop surrounding dollars, a leading currency sign and trailing sentence punctuation."""
    answer = answer.strip().strip("$").strip()
    answer = re.sub(r"^\\?\$\s*", "", answer)
    answer = re.sub(r"[.,;:!]+$", "", answer).strip()
    return answer


def extract_answer(text: str) -> str | None:
    """The final answer in a solution: the last \\boxed{...}, else GSM8K's `#### N`, else "The answer
    is X", else the last number; None where there is none."""
    boxed = _last_boxed(text)
    if boxed is not None and boxed.strip():
        return _clean(boxed) or boxed.strip()
    if "####" in text:
        tail = _clean(text.rsplit("####", 1)[1].strip().split("\n", 1)[0])
        if tail:
            return _strip_units(tail)
    said = list(_ANSWER_IS.finditer(text))
    if said:
        # up to the end of that sentence: a period followed by a space, or a line end
        tail = re.split(r"\.(?:\s|$)|\n", text[said[-1].end() :], maxsplit=1)[0]
        if tail := _clean(tail):
            return _strip_units(tail)
    numbers = _NUMBER_IN_TEXT.findall(text)
    return numbers[-1] if numbers else None


# ---------------------------------------------------------------------------------------------------
# Normalization and the numeric fast path

_LATEX_NOISE = re.compile(r"\\left\b|\\right\b|\\displaystyle\b|(?<!\\)\\[,;:! ]|\^\s*\{?\\circ\}?|\\circ\b")
_UNITS = re.compile(
    r"^(?P<num>.*?\d)\s*"
    r"(?P<unit>\\(?:text|mbox|mathrm)\s*\{\s*[A-Za-z][A-Za-z .]*\}|[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*)"
    r"(?:\s*\^\s*\{?[23]\}?)?\.?$"
)
_NOT_UNITS = re.compile(r"(?i)\b(?:pi|hundred|thousand|million|billion|trillion)\b")
_PLAIN_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)\\frac\s*(?:\{(-?\d+)\}|(\d))\s*(?:\{(-?\d+)\}|(\d))")


def _strip_units(answer: str) -> str:
    """'18 dollars', '5 \\text{ cm}^2' -> the number; only after a plain number and for words of 2+
    letters that are no number words, so '5x', '2 pi' or '3 million' stay as they are."""
    m = _UNITS.match(answer)
    if not m or not re.fullmatch(r"[-\d.,/]+", m.group("num")) or _NOT_UNITS.search(m.group("unit")):
        return answer
    return m.group("num")


def _normalize(answer: str) -> str:
    if boxed := _last_boxed(answer):
        answer = boxed
    answer = _LATEX_NOISE.sub(" ", answer)
    answer = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", answer).replace("~", " ")  # \dfrac12 too
    answer = _strip_units(_clean(answer))
    return re.sub(r"\s+", " ", answer).strip()


def _as_numbers(answer: str) -> set[Fraction] | None:
    """Exact values of a plain number, fraction or percentage (a% may mean a or a/100), else None."""
    s = answer.replace(" ", "")
    percent = s.endswith("%")
    s = s.removesuffix("\\%").removesuffix("%")
    try:
        if (m := _FRACTION.fullmatch(s)) is not None:
            num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
            value = Fraction(-num if m.group(1) else num, den)
        elif re.fullmatch(r"-?\d+/\d+", s):
            value = Fraction(s)
        elif s and s not in "-." and _PLAIN_NUMBER.fullmatch(s):
            value = Fraction(s.replace(",", ""))
        else:
            return None
    except (ValueError, ZeroDivisionError):  # 1/0, or digits past Python's int-string limit
        return None
    return {value, value / 100} if percent else {value}


def _numbers_match(a: set[Fraction], b: set[Fraction], decimal: bool) -> bool:
    if a & b:
        return True
    # a rounded or cut decimal (0.333333 for 1/3) matches to 6 places, like math-verify's float_rounding
    return decimal and any(abs(x - y) <= Fraction(1, 10**6) for x in a for y in b)


# ---------------------------------------------------------------------------------------------------
# math-verify in a killable worker process


def _worker_main() -> None:
    """Serve JSON lines [pred, gold] -> '1'/'0' on stdout; run as a script by _Worker."""
    import logging
    import resource

    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # a stray print from a library must not corrupt the protocol
    logging.disable(logging.WARNING)  # math-verify warns once per call that its timeout is off
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    proto.write("ready\n")
    proto.flush()
    for line in sys.stdin:
        pred, gold = json.loads(line)
        # Backstop if the parent dies mid-call (it kills us otherwise): SIGXCPU after 60 s more CPU.
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + 60
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        try:
            g = parse(f"${gold}$", parsing_timeout=None)
            p = parse(f"${pred}$", parsing_timeout=None)
            ok = bool(g) and bool(p) and verify(g, p, timeout_seconds=None)
        except (Exception, TimeoutException):  # TimeoutException is a BaseException
            ok = False
        proto.write("1\n" if ok else "0\n")
        proto.flush()


class _WorkerError(RuntimeError):
    pass


class _Worker:
    START_TIMEOUT_S = 120.0  # importing sympy + math-verify: about a second, slower on a busy node

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            # This module's own source as a script: works from a file or from the zip shipped to Spark
            # executors, and imports nothing of the package (whose __init__ files may grow heavy).
            [sys.executable, "-P", "-c", __spec__.loader.get_source(__spec__.name), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if self._read_line(time.monotonic() + self.START_TIMEOUT_S) != "ready":
            self.close()
            raise _WorkerError(f"math-verify worker did not start (exit code {self.proc.poll()}); "
                               f"is math-verify installed for {sys.executable}?")

    def _read_line(self, deadline: float) -> str | None:
        """One line from the worker, or None at the deadline or when the worker died."""
        buf = b""
        fd = self.proc.stdout.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
        return buf.decode().strip()

    def ask(self, pred: str, gold: str, timeout_s: float) -> bool | None:
        """math-verify's verdict, or None when the worker is gone (timed out and killed, or crashed)."""
        try:
            self.proc.stdin.write((json.dumps([pred, gold]) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            return None
        reply = self._read_line(time.monotonic() + timeout_s)
        return None if reply is None else reply == "1"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()


class _Pool:
    """Idle workers for reuse; a thread takes one (or starts one) for the length of a call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.pid = os.getpid()

    def take(self) -> _Worker:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's workers are the parent's to use
                self.idle, self.pid = [], os.getpid()
            while self.idle:
                worker = self.idle.pop()
                if worker.proc.poll() is None:  # skip one that died while idle (OOM killer, ...)
                    return worker
                worker.close()
        return _Worker()

    def give(self, worker: _Worker) -> None:
        with self.lock:
            self.idle.append(worker)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        if self.pid == os.getpid():
            for worker in idle:
                worker.close()


_POOL = _Pool()
atexit.register(_POOL.close)


@functools.lru_cache(maxsize=1 << 16)
def _math_verify(pred: str, gold: str, timeout_s: float) -> bool:
    """Cached, so a pathological pair costs its deadline once and voting repeats are free."""
    worker = _POOL.take()
    verdict = worker.ask(pred, gold, timeout_s)
    if verdict is None:
        worker.close()  # past its deadline (still computing) or dead: never reuse
        return False
    _POOL.give(worker)
    return verdict


# ---------------------------------------------------------------------------------------------------
# Equivalence


def answers_equivalent(a: str, b: str, timeout_s: float = 2.0) -> bool:
    """Whether answer a means answer b (b is the reference where that matters, e.g. `x=3` vs `3`).

    Fast path: equal normalized strings, or both plain numbers / fractions / percentages (exact, or to
    6 places where a decimal is involved). Otherwise math-verify, bounded by timeout_s seconds of wall
    time (False past it)."""
    if a is None or b is None:
        return False
    na, nb = _normalize(a), _normalize(b)
    if not na or not nb:
        return False
    if na.replace(" ", "") == nb.replace(" ", ""):
        return True
    xa, xb = _as_numbers(na), _as_numbers(nb)
    if xa is not None and xb is not None:
        return _numbers_match(xa, xb, decimal="." in na + nb)
    return _math_verify(na, nb, float(timeout_s))


def is_correct(prediction_text: str, reference: str) -> bool:
    """Whether the final answer extracted from a model's solution text matches the reference answer."""
    answer = extract_answer(prediction_text)
    return answer is not None and answers_equivalent(answer, reference)


# ---------------------------------------------------------------------------------------------------
# Majority voting


def majority_answer(
    answers: Sequence[str | None],
    k: int | None = None,
    equivalent: Callable[[str, str], bool] = answers_equivalent,
) -> str | None:
    """The winning answer among the first k: votes pool over equivalent answers (an answer joins the
    first earlier class whose first member it is equivalent to); the largest class wins, a tie goes to
    the class seen first; its first member is returned. None answers never vote; None if none voted."""
    reps: list[str] = []  # first member of each class, in order of first appearance
    counts: list[int] = []
    index: dict[str, int] = {}  # exact string -> class, so repeats skip the equivalence checks
    for answer in answers[:k] if k is not None else answers:
        if answer is None or not answer.strip():
            continue
        cls = index.get(answer)
        if cls is None:
            cls = next((i for i, rep in enumerate(reps) if equivalent(answer, rep)), None)
            if cls is None:
                reps.append(answer)
                counts.append(0)
                cls = len(reps) - 1
            index[answer] = cls
        counts[cls] += 1
    if not reps:
        return None
    best = max(range(len(reps)), key=lambda i: (counts[i], -i))
    return reps[best]


def maj_at_k(
    answers: Sequence[str | None],
    reference: str,
    k: int | None = None,
    equivalent: Callable[[str, str], bool] = answers_equivalent,
) -> bool:
    """Whether majority voting over the first k answers (see majority_answer) picks the reference."""
    if k is not None and not 1 <= k <= len(answers):
        raise ValueError(f"maj_at_k needs 1 <= k <= {len(answers)} answers, got k={k}")
    winner = majority_answer(answers, k, equivalent)
    return winner is not None and equivalent(winner, reference)


# ---------------------------------------------------------------------------------------------------
# Problems and whole evaluations


def _reference(record: dict) -> str | None:
    """The final answer of a GSM8K or MATH style record, or None."""
    answer = record.get("answer")
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int | float):
        return str(answer)
    if isinstance(answer, str) and answer.strip():
        if "####" in answer:  # GSM8K: a worked solution ending in "#### N"
            return extract_answer(answer[answer.rindex("####") :])
        if "\n" not in answer.strip():  # an explicit final answer (MATH500 and most others)
            return answer.strip()
        return _last_boxed(answer)  # a worked solution in the answer field: only a boxed answer counts
    solution = record.get("solution")
    return _last_boxed(solution) if isinstance(solution, str) else None


class ProblemsError(UserError, ValueError):
    """A problems file no command can use: one line "FILE:LINE: what is wrong" (the CLI prints it)."""


def read_problems(path: str) -> list[dict]:
    """GSM8K-style (`question`, `answer` with `#### N`) or MATH-style (`problem`, `solution` with a boxed
    answer, or an explicit `answer`) JSONL -> [{id, question, answer}], answer being the final answer.
    A line that is not UTF-8 or not JSON, a record without a question or usable answer, and a file with no
    problem at all raise ProblemsError naming file and line."""
    problems = []
    with open(path, "rb") as f:  # decoded line by line, so an undecodable byte names its line
        for line_no, raw in enumerate(f, 1):
            where = f"{path}:{line_no}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ProblemsError(f"{where}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ProblemsError(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise ProblemsError(f"{where}: not a JSON object")
            question = record.get("question", record.get("problem"))
            if not isinstance(question, str) or not question.strip():
                raise ProblemsError(f"{where}: no `question` or `problem` text")
            answer = _reference(record)
            if answer is None or not answer.strip():
                raise ProblemsError(f"{where}: no usable answer (`answer` with #### N or a final answer, "
                                    "or a `solution` with \\boxed{...})")
            rid = next((record[key] for key in ("id", "unique_id", "idx") if record.get(key) is not None),
                       f"{Path(path).stem}-{line_no}")
            problems.append({"id": str(rid), "question": question, "answer": answer.strip()})
    if not problems:
        raise ProblemsError(f"{path}: no problems (an empty JSONL file)")
    return problems


def greedy_accuracy(problems: list[dict], greedy_outputs: list[str]) -> float:
    """Fraction of problems whose single (greedy) output is correct."""
    if len(problems) != len(greedy_outputs):
        raise ValueError(f"{len(problems)} problems but {len(greedy_outputs)} greedy outputs")
    if not problems:
        raise ValueError("no problems to evaluate")
    return sum(is_correct(out, p["answer"]) for p, out in zip(problems, greedy_outputs, strict=True)) / len(
        problems
    )


def evaluate_samples(problems: list[dict], samples: list[list[str]], ks: Sequence[int]) -> dict:
    """pass@k (unbiased, averaged over problems) and maj@k (voting over the first k samples) for each k,
    from n sampled solution texts per problem (n may differ, but must be >= max(ks)).

    Returns {"n_problems", "pass@K": float, "maj@K": float for each K in ks, "per_problem": [{id, n,
    correct, answers, majority}]} where majority is the winning answer over the first max(ks) samples."""
    if len(problems) != len(samples):
        raise ValueError(f"{len(problems)} problems but {len(samples)} sample lists")
    if not problems or not ks:
        raise ValueError("need at least one problem and one k")
    ks = sorted(set(ks))
    result: dict = {"n_problems": len(problems)}
    pass_sums = dict.fromkeys(ks, 0.0)
    maj_sums = dict.fromkeys(ks, 0)
    details = []
    for problem, texts in zip(problems, samples, strict=True):
        n, ref = len(texts), problem["answer"]
        if ks[-1] > n:
            raise ValueError(f"problem {problem['id']}: {n} samples, fewer than k={ks[-1]}")
        answers = [extract_answer(t) for t in texts]
        verdicts = {a: answers_equivalent(a, ref) for a in set(answers) if a is not None}
        c = sum(a is not None and verdicts[a] for a in answers)
        for k in ks:
            pass_sums[k] += pass_at_k(n, c, k)
            maj_sums[k] += maj_at_k(answers, ref, k)
        details.append({"id": problem["id"], "n": n, "correct": c, "answers": answers,
                        "majority": majority_answer(answers, ks[-1])})
    for k in ks:
        result[f"pass@{k}"] = pass_sums[k] / len(problems)
    for k in ks:
        result[f"maj@{k}"] = maj_sums[k] / len(problems)
    result["per_problem"] = details
    return result


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
