"""Near-duplicate detection pieces: shingling, batched MinHash signatures, LSH band keys.

Signatures are datasketch-compatible: `datasketch.MinHash(num_perm, seed, hashfunc=h)` with
its default "affine32" scheme, updated with our shingles, holds exactly the values `MinHasher`
computes here for the same seed, when `h` is `MinHasher.shingle_hash` (the test checks it for
both hash choices). The work is done for a whole batch of documents at once in numpy, not one
Python call per shingle.

Hashes:
- "xxh32" (default, fast): each word is hashed once with xxh32, and a shingle's hash is a
  polynomial of its words' hashes (mod 2^32), computed for all shingles of a batch at once.
- "sha1": datasketch's own default `sha1_hash32` over the shingle's bytes (slow; for
  comparing with signatures made elsewhere).
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import xxhash

from pipeline.text import collapse_spaces

WORD = re.compile(r"\w+")
_SHINGLE_MULT = np.uint32(0x01000193)  # FNV prime: odd, so the polynomial mixes every word
_EMPTY = np.uint32(0xFFFFFFFF)
# Shingles per (permutations x shingles) block: 128 x 8192 uint32 is 4 MB, so the multiply, add and
# min passes stay in cache (1 << 16 was ~1.5x slower for the same work).
_CHUNK_SHINGLES = 1 << 13
# bytes.translate table: ASCII bytes that `\w` does not match become spaces. On ASCII text NFKC is the
# identity and `\w` is [A-Za-z0-9_], so lower + translate + split gives exactly WORD's runs.
_ASCII_NONWORD = bytes(c if chr(c).isalnum() or c == 0x5F else 0x20 for c in range(128)) + b" " * 128


def normalize_words(text: str) -> list[str]:
    """Words for shingling: NFKC, lower case, runs of letters/digits (punctuation and spacing
    differences do not make pages different). The reference; `word_bytes` is the fast equal."""
    return WORD.findall(unicodedata.normalize("NFKC", text).lower())


def word_bytes(text: str) -> list[bytes]:
    """`normalize_words` as UTF-8 bytes (what the word hash reads), without a regex on ASCII text
    (~80% of real pages): C-speed lower, translate and split, ~3x faster."""
    if text.isascii():
        return text.encode("ascii").lower().translate(_ASCII_NONWORD).split()
    # words hold no ASCII whitespace: one join and one encode instead of one encode per word
    return " ".join(normalize_words(text)).encode("utf-8", "surrogatepass").split()


def text_hash(text: str) -> str:
    """Exact-duplicate key: sha1 of the text with whitespace collapsed."""
    return hashlib.sha1(collapse_spaces(text).encode("utf-8", "surrogatepass")).hexdigest()


def normalize_url(url: str) -> str:
    """Exact-URL key: lower-case scheme and host, no default port, no fragment, no trailing '/'."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # bad port or IPv6 host (ingest only checks the scheme): match exactly
        return url.strip()
    host = (parts.hostname or "").rstrip(".")
    port = port if port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before permuting."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


@dataclass(frozen=True)
class MinHasher:
    num_perm: int = 128
    ngram: int = 5
    seed: int = 1
    hash_name: str = "xxh32"

    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        return _permutations(self.num_perm, self.seed)

    # ---- one shingle at a time (the reference, and datasketch's hashfunc) ----

    def shingles(self, text: str) -> list[bytes]:
        words = normalize_words(text)
        if not words:
            return []
        n = min(self.ngram, len(words))
        return [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)]

    def shingle_hash(self, shingle: bytes) -> int:
        """The 32-bit hash of one shingle: pass it to datasketch as `hashfunc`."""
        if self.hash_name == "sha1":
            return struct.unpack("<I", hashlib.sha1(shingle).digest()[:4])[0]
        h = np.uint32(0)
        with np.errstate(over="ignore"):
            for word in shingle.split(b" "):
                h = np.uint32(h * _SHINGLE_MULT + np.uint32(xxhash.xxh32_intdigest(word)))
        return int(h)

    # ---- a batch at once ----

    def _shingle_hashes(self, words: list[bytes]) -> np.ndarray:
        if not words:
            return np.empty(0, dtype=np.uint32)
        if self.hash_name == "sha1":
            n = min(self.ngram, len(words))
            return np.fromiter(
                (struct.unpack("<I", hashlib.sha1(b" ".join(words[i:i + n])).digest()[:4])[0]
                 for i in range(len(words) - n + 1)), dtype=np.uint32)
        word_hashes = np.fromiter(map(xxhash.xxh32_intdigest, words), np.uint32, len(words))
        n = min(self.ngram, len(words))
        count = len(words) - n + 1
        h = np.zeros(count, dtype=np.uint32)
        for k in range(n):  # Horner over the n words of every shingle at once
            h = h * _SHINGLE_MULT + word_hashes[k:k + count]
        return h

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures; a text without words gets all 0xFFFFFFFF."""
        a, b = self.permutations
        out = np.full((len(texts), self.num_perm), _EMPTY, dtype=np.uint32)
        hashes = [self._shingle_hashes(word_bytes(t)) for t in texts]
        lengths = np.fromiter((len(h) for h in hashes), np.int64, len(hashes))
        # one block buffer for the whole batch: a fresh 4 MB array per block costs its page faults
        block = np.empty((self.num_perm, _CHUNK_SHINGLES), dtype=np.uint32)
        doc = 0
        while doc < len(texts):
            # Take documents until the chunk holds about _CHUNK_SHINGLES shingles (at least one doc).
            end, total = doc, 0
            while end < len(texts) and (total == 0 or total + lengths[end] <= _CHUNK_SHINGLES):
                total += lengths[end]
                end += 1
            nonempty = [i for i in range(doc, end) if lengths[i]]
            if len(nonempty) == 1 and lengths[nonempty[0]] > _CHUNK_SHINGLES:
                # one long page: its shingles a block at a time, keeping the running minimum
                page = hashes[nonempty[0]]
                best = out[nonempty[0]]
                for lo in range(0, len(page), _CHUNK_SHINGLES):
                    np.minimum(best, _permuted(page[lo:lo + _CHUNK_SHINGLES], a, b, block).min(axis=1),
                               out=best)
            elif nonempty:
                phv = _permuted(np.concatenate([hashes[i] for i in nonempty]), a, b, block)
                starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
                out[nonempty] = np.minimum.reduceat(phv, starts, axis=1).T
            doc = end
        return out


def _permuted(shingle_hashes: np.ndarray, a: np.ndarray, b: np.ndarray, block: np.ndarray) -> np.ndarray:
    """The (perm, shingle) matrix a * fmix32(h) + b of at most one block of shingles, in `block`: the
    min then runs along contiguous rows. uint32 arithmetic wraps mod 2^32, exactly as datasketch's
    affine32 scheme."""
    phv = np.multiply(a[:, None], _fmix32(shingle_hashes)[None, :], out=block[:, :len(shingle_hashes)])
    phv += b[:, None]
    return phv


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 parameters: same generator, same draws, same order."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


# ---------------------------------------------------------------- LSH


def _integrate(f, lo: float, hi: float, steps: int = 200) -> float:
    """Simpson's rule: enough for these smooth curves, and no scipy needed."""
    if hi <= lo:
        return 0.0
    xs = np.linspace(lo, hi, steps + 1)
    ys = f(xs)
    h = (hi - lo) / steps
    return float(h / 3 * (ys[0] + ys[-1] + 4 * ys[1:-1:2].sum() + 2 * ys[2:-1:2].sum()))


def false_positive_rate(threshold: float, bands: int, rows: int) -> float:
    """Area under the candidate probability below the threshold (datasketch's definition)."""
    return _integrate(lambda s: 1 - (1 - s ** rows) ** bands, 0.0, threshold)


def false_negative_rate(threshold: float, bands: int, rows: int) -> float:
    return _integrate(lambda s: (1 - s ** rows) ** bands, threshold, 1.0)


@lru_cache(maxsize=32)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5,
                  fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + negative areas, as datasketch does."""
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = (fp_weight * false_positive_rate(threshold, bands, rows)
                     + fn_weight * false_negative_rate(threshold, bands, rows))
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def miss_probability(similarity: float, bands: int, rows: int) -> float:
    """P(a pair at this Jaccard similarity shares no band): it is never even compared."""
    return float((1 - similarity ** rows) ** bands)


@lru_cache(maxsize=32)
def recall_bands(threshold: float, num_perm: int, max_miss: float) -> tuple[int, int]:
    """(bands, rows) that miss a pair at the threshold with probability <= max_miss, with the least
    false positive area among those. Every candidate pair is verified against the threshold by its
    signature similarity, so a false positive of the banding costs a comparison, never precision;
    a false negative is a duplicate kept. Datasketch's balanced choice (9 x 13 at 0.8) misses 7% of
    the pairs at J = 0.9; 16 x 6 misses 0.8% at 0.8 and 6e-6 at 0.9."""
    best, best_fp = None, float("inf")
    for rows in range(1, num_perm + 1):
        for bands in range(1, num_perm // rows + 1):
            if miss_probability(threshold, bands, rows) <= max_miss:
                fp = false_positive_rate(threshold, bands, rows)
                if fp < best_fp:
                    best, best_fp = (bands, rows), fp
                break  # more bands only add false positives
    if best is None:  # not reachable with these permutations: as close as they allow
        return max(((num_perm // r, r) for r in range(1, num_perm + 1)),
                   key=lambda br: -miss_probability(threshold, *br))
    return best


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """One 63-bit key per band: equal keys in a band make two pages candidates."""
    if signature.size and signature[0] == _EMPTY and (signature == _EMPTY).all():
        return []  # a page without words is nobody's near-duplicate
    return [
        xxhash.xxh64_intdigest(signature[i * rows:(i + 1) * rows].tobytes(), seed=i) >> 1
        for i in range(bands)
    ]


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))


def page_features(ids: Sequence[str], urls: Sequence[str], texts: Sequence[str], hasher: MinHasher,
                  bands: int, rows: int) -> dict[str, list]:
    """Per page, in one pass over a batch: exact keys, signature bytes and LSH band keys."""
    signatures = hasher.signatures(texts)
    return {
        "id": list(ids),
        "url_key": [normalize_url(u or "") for u in urls],
        "text_key": [text_hash(t or "") for t in texts],
        "signature": [s.tobytes() for s in signatures],
        "band_keys": [band_keys(s, bands, rows) for s in signatures],
    }


def signature_jaccard(sig_a: bytes, sig_b: bytes) -> float:
    """Estimated Jaccard of two signatures stored as bytes (the verification step)."""
    return estimated_jaccard(np.frombuffer(sig_a, np.uint32), np.frombuffer(sig_b, np.uint32))
