"""Parse faiss-style codec specs: comma-separated transforms, then exactly one code.

A spec is parsed into :class:`Spec`, which knows the pieces, the faiss factory string
that implements them, and how many training rows the spec needs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

GRAMMAR = """\
spec      := [transform ","]* code
transform := PCA{n} | PCAW{n} (whitened) | PCAR{n} (PCA + rotation) | OPQ{m}[_{n}]
           | RR{n} (random rotation) | ITQ[{n}] | L2norm
           | HASH{n}[x{k}] (signed feature hashing) | PRUNE{n}[_imp] (keep n dims)
           | TRUNC{n} (Matryoshka: first n dims, renormalized) | DISTILL{n}[_{hidden}] (learned student)
           | UNIT (unit-norm embeddings: reconstructions are put back on the unit sphere, free)
code      := Flat | SQfp16 | SQbf16 | SQ8 | SQ6 | SQ4 | PQ{m}[x{bits}] | RaBitQ[{bits}]
           | RQ{m}x{bits}[_b{beam}] (residual, beam search; faiss's beam is 5)
           | LSQ{m}x{bits}[_i{encode iters}][_t{train iters}] (local search; faiss: 16 and 25)
           | PRQ{splits}x{m}x{bits}[_b{beam}] | PLSQ{splits}x{m}x{bits}[_i{iters}][_t{iters}] (per sub-space)
           | BIN (1 bit per dimension: sign, packed) | TOPK{k} (k sparse (index, fp16) pairs)
           | MP{bytes} (mixed precision bits per dimension under a byte budget)
examples  : "SQ8", "PCA128,SQ8", "OPQ32,PQ32", "PQ48x8", "RR384,SQ4", "ITQ64,BIN", "HASH512x2,SQ8",
            "PCA256,MP48", "DISTILL128,SQ8", "TRUNC128,SQ8", "UNIT,RQ32x8_b16", "UNIT,OPQ32,PQ32\""""

# re.ASCII: \d would also match other scripts' digits ("PCA\u0668"), which int() accepts
_TRANSFORM_PATTERNS = {
    "PCA": re.compile(r"PCA(\d+)", re.ASCII),
    "PCAW": re.compile(r"PCAW(\d+)", re.ASCII),
    "PCAR": re.compile(r"PCAR(\d+)", re.ASCII),
    "OPQ": re.compile(r"OPQ(\d+)(?:_(\d+))?", re.ASCII),
    "RR": re.compile(r"RR(\d+)", re.ASCII),
    "ITQ": re.compile(r"ITQ(\d+)?", re.ASCII),
    "L2norm": re.compile(r"L2norm", re.ASCII),
    "HASH": re.compile(r"HASH(\d+)(?:x(\d+))?", re.ASCII),
    "PRUNE": re.compile(r"PRUNE(\d+)(_imp)?", re.ASCII),
    "TRUNC": re.compile(r"TRUNC(\d+)", re.ASCII),
    "DISTILL": re.compile(r"DISTILL(\d+)(?:_(\d+))?", re.ASCII),
    "UNIT": re.compile(r"UNIT", re.ASCII),
}
_CODE_PATTERNS = {
    "Flat": re.compile(r"Flat", re.ASCII),
    "SQ": re.compile(r"SQ(fp16|bf16|8|6|4)", re.ASCII),
    "PQ": re.compile(r"PQ(\d+)(?:x(\d+))?", re.ASCII),
    "RQ": re.compile(r"RQ(\d+)x(\d+)(?:_b(\d+))?", re.ASCII),
    "LSQ": re.compile(r"LSQ(\d+)x(\d+)(?:_i(\d+))?(?:_t(\d+))?", re.ASCII),
    "PRQ": re.compile(r"PRQ(\d+)x(\d+)x(\d+)(?:_b(\d+))?", re.ASCII),
    "PLSQ": re.compile(r"PLSQ(\d+)x(\d+)x(\d+)(?:_i(\d+))?(?:_t(\d+))?", re.ASCII),
    "BIN": re.compile(r"BIN", re.ASCII),
    "TOPK": re.compile(r"TOPK(\d+)", re.ASCII),
    "MP": re.compile(r"MP(\d+)", re.ASCII),
    "RaBitQ": re.compile(r"RaBitQ(\d+)?", re.ASCII),
}
FAISS_TRANSFORMS = frozenset({"PCA", "PCAW", "PCAR", "OPQ", "RR", "ITQ", "L2norm"})
ADDITIVE_CODES = frozenset({"RQ", "LSQ", "PRQ", "PLSQ"})
FAISS_CODES = frozenset({"Flat", "SQ", "PQ", "RaBitQ"}) | ADDITIVE_CODES
_SQ_BITS = {"fp16": 16, "bf16": 16, "8": 8, "6": 6, "4": 4}
# Limits on the spec itself, shared by fit and load (see SECURITY.md). Sizes that pass them
# can still need too much memory together; embcompress.layout bounds that from spec and dim.
MAX_DIM = 65536  # every number in a spec, and every vector dimension
MAX_PIECES = 16  # transforms plus the code
MAX_HASH_FUNCTIONS = 64  # k of HASH{n}x{k}
MAX_CODEBOOK_BITS = 16  # bits of PQ{m}x{bits} and RQ{m}x{bits}
MAX_RQ_CODEBOOKS = 128  # m of RQ{m}x{bits} (all splits of PRQ/PLSQ together): RQ128x8 is 128 B, the grid's top
MAX_ADDITIVE_SETTING = 1024  # beam size (_b) and iteration counts (_i, _t) of additive codes
MAX_SPEC_CHARS = 1024


@dataclass(frozen=True)
class Piece:
    """One parsed element of a spec: its kind (e.g. ``"PCA"``), its text and its numbers."""

    kind: str
    text: str
    args: tuple


@dataclass(frozen=True)
class Spec:
    text: str
    transforms: tuple
    code: Piece

    @property
    def faiss_factory(self) -> str:
        """The faiss ``index_factory`` string; a code faiss lacks is built on a faiss ``Flat`` code.

        Settings faiss's factory has no syntax for (beam size, iterations) are left out here
        and set on the built index (:func:`embcompress.faiss_backend.new_index`).
        """
        code = faiss_code_text(self.code) if self.code.kind in FAISS_CODES else "Flat"
        return ",".join([t.text for t in self.transforms] + [code])

    def output_dim(self, dim: int) -> int:
        """Dimension the code sees after all transforms, for input dimension ``dim``."""
        for t in self.transforms:
            if t.kind == "OPQ":
                dim = t.args[1] if t.args[1] is not None else dim
            elif t.kind == "ITQ":
                dim = t.args[0] if t.args[0] is not None else dim
            elif t.kind == "PRUNE":
                dim = t.args[0]
            elif t.kind not in ("L2norm", "UNIT"):
                dim = t.args[0]
        return dim

    def min_training_rows(self, dim: int) -> int:
        """Fewest sample rows faiss can fit this spec on (k-means needs one row per centroid)."""
        need = 1
        d = dim
        for t in self.transforms:
            if t.kind == "OPQ":
                need = max(need, 256)
            elif t.kind in ("PCA", "PCAW", "PCAR", "ITQ"):
                # faiss's PCA on fewer rows than dimensions has only as many components as rows
                need = max(need, 2, Spec(self.text, (t,), self.code).output_dim(d))
            elif t.kind in ("RR", "PRUNE"):
                need = max(need, 2)
            elif t.kind == "DISTILL":
                need = max(need, 64)
            d = Spec(self.text, (t,), self.code).output_dim(d)
        if self.code.kind == "PQ" or self.code.kind in ADDITIVE_CODES:
            need = max(need, 2 ** self.code.args[1])
        elif self.code.kind in ("SQ", "MP"):
            need = max(need, 2)
        return need

    def max_training_rows(self, dim: int) -> int | None:
        """Most sample rows faiss's trainers read for this spec; None when some stage reads every row.

        faiss subsamples a PCA to 1,000 rows per input dimension, OPQ to 65,536 rows, ITQ to
        max(10 per dimension, 32,768) and k-means to 256 rows per centroid; a scalar quantizer's
        range, the additive quantizers' beam passes and RaBitQ's centre read every row.
        Rows beyond this bound can measure fit statistics without costing the trainer anything.
        """
        caps, d = [], dim
        for t in self.transforms:
            if t.kind in ("PCA", "PCAW", "PCAR"):
                caps.append(1000 * d)
            elif t.kind == "OPQ":
                caps.append(256 * 256)
            elif t.kind == "ITQ":
                caps.append(max(10 * d, 32768))
            elif t.kind not in ("RR", "L2norm", "UNIT"):
                return None
            d = Spec(self.text, (t,), self.code).output_dim(d)
        if self.code.kind == "PQ":
            caps.append(256 * 2 ** self.code.args[1])
        elif self.code.kind != "Flat":
            return None
        return max(caps, default=0)

    def check_dim(self, dim: int) -> None:
        """Raise ValueError when the spec cannot apply to vectors of dimension ``dim``."""
        d = dim
        for t in self.transforms:
            if t.kind == "RR" and t.args[0] < d:
                raise ValueError(f"spec {self.text!r}: {t.text} must be >= the input dimension {d}")
            if t.kind in ("PCA", "PCAW", "PCAR", "ITQ", "PRUNE", "TRUNC", "DISTILL") and t.args[0] is not None \
                    and t.args[0] > d:
                raise ValueError(f"spec {self.text!r}: {t.text} asks for more dimensions than the {d} it receives")
            if t.kind == "OPQ":
                m, n = t.args
                out = n if n is not None else d
                if out > d:  # faiss pads, training on an out x out rotation: slow and never useful
                    raise ValueError(f"spec {self.text!r}: {t.text} asks for more dimensions than the {d} it receives")
                if out % m:
                    raise ValueError(f"spec {self.text!r}: {t.text} needs its output dimension {out} divisible by {m}")
            d = Spec(self.text, (t,), self.code).output_dim(d)
        if self.code.kind == "PQ" and d % self.code.args[0]:
            raise ValueError(
                f"spec {self.text!r}: PQ{self.code.args[0]} needs the dimension it receives ({d}) "
                f"to be divisible by {self.code.args[0]}"
            )
        if self.code.kind in ("PRQ", "PLSQ") and d % self.code.args[-1]:
            raise ValueError(f"spec {self.text!r}: {self.code.text} needs the dimension it receives ({d}) "
                             f"to be divisible by its {self.code.args[-1]} splits")
        if self.code.kind == "TOPK" and self.code.args[0] > d:
            raise ValueError(f"spec {self.text!r}: {self.code.text} keeps more values than the {d} dimensions "
                             f"it receives")
        if self.code.kind == "MP" and self.code.args[0] * 8 < d:
            raise ValueError(f"spec {self.text!r}: {self.code.text} is below 1 bit per dimension for the {d} "
                             f"dimensions it receives; use at least MP{-(-d // 8)} or reduce the dimension first")

    @property
    def needs_nonzero_norm(self) -> bool:
        return any(t.kind in ("L2norm", "ITQ") for t in self.transforms)


def faiss_code_text(code: Piece) -> str:
    """The code as faiss's ``index_factory`` spells it (additive settings stripped).

    A product quantizer is ``PQ{m}[x{bits}]np``: without ``np`` faiss's factory adds polysemous
    training, an annealing that reorders each sub-quantizer's centroids for Hamming filtering,
    which nothing here uses. The centroids, and so recall, are the same; the fit is about 30x
    faster without it (PQ48 on 2,000 x 384: 2.8 s against 87 s).
    """
    if code.kind == "PQ":
        return f"PQ{code.args[0]}x{code.args[1]}np"
    if code.kind in ("RQ", "LSQ"):
        return f"{code.kind}{code.args[0]}x{code.args[1]}"
    if code.kind in ("PRQ", "PLSQ"):
        return f"{code.kind}{code.args[-1]}x{code.args[0]}x{code.args[1]}"
    return code.text


def _bad(spec: str, why: str) -> ValueError:
    return ValueError(f"invalid codec spec {spec!r}: {why}.\nAccepted grammar:\n{GRAMMAR}")


def _match(patterns: dict, token: str):
    for kind, pattern in patterns.items():
        m = pattern.fullmatch(token)
        if m:
            return kind, m
    return None, None


def _numbers(spec: str, token: str, groups) -> tuple:
    out: list[int | None] = []
    for g in groups:
        if g is None:
            out.append(None)
            continue
        value = int(g)
        if not 1 <= value <= MAX_DIM:
            raise _bad(spec, f"{token!r} has {value}, outside 1..{MAX_DIM}")
        out.append(value)
    return tuple(out)


def parse_spec(spec: str | Spec) -> Spec:
    """Parse ``spec`` or raise ValueError quoting it and listing the accepted grammar."""
    if isinstance(spec, Spec):
        return spec
    if not isinstance(spec, str):
        raise _bad(repr(spec), f"expected a string, got {type(spec).__name__}")
    if len(spec) > MAX_SPEC_CHARS:
        raise _bad(spec[:40] + "...", f"it is {len(spec)} characters long, the limit is {MAX_SPEC_CHARS}")
    text = spec.strip()
    if not text:
        raise _bad(spec, "it is empty")
    tokens = [t.strip() for t in text.split(",")]
    if any(not t for t in tokens):
        raise _bad(spec, "it has an empty element between commas")
    if len(tokens) > MAX_PIECES:
        raise _bad(spec, f"it has {len(tokens)} pieces, the limit is {MAX_PIECES} (transforms plus the code)")
    transforms = []
    for token in tokens[:-1]:
        kind, m = _match(_TRANSFORM_PATTERNS, token)
        if kind is None:
            hint = "a code must come last" if _match(_CODE_PATTERNS, token)[0] else "unknown transform"
            raise _bad(spec, f"{token!r}: {hint}")
        args: tuple
        if kind == "PRUNE":
            args = (_numbers(spec, token, m.groups()[:1])[0], m.group(2) is not None)
        elif kind == "HASH":
            n, k = _numbers(spec, token, m.groups())
            args = (n, 2 if k is None else k)
            if args[1] > MAX_HASH_FUNCTIONS:
                raise _bad(spec, f"{token!r}: at most {MAX_HASH_FUNCTIONS} hash functions")
        else:
            args = _numbers(spec, token, m.groups())
        transforms.append(Piece(kind, token, args))
    kind, m = _match(_CODE_PATTERNS, tokens[-1])
    if kind is None:
        hint = "the last element must be a code" if _match(_TRANSFORM_PATTERNS, tokens[-1])[0] else "unknown code"
        raise _bad(spec, f"{tokens[-1]!r}: {hint}")
    if kind == "SQ":
        args = (_SQ_BITS[m.group(1)],)
    elif kind == "PQ":
        m_sub, bits = _numbers(spec, tokens[-1], m.groups())
        bits = 8 if bits is None else bits
        if not 1 <= bits <= MAX_CODEBOOK_BITS:
            raise _bad(spec, f"{tokens[-1]!r}: bits per sub-quantizer must be 1..{MAX_CODEBOOK_BITS}")
        args = (m_sub, bits)
    elif kind in ADDITIVE_CODES:
        args = _additive_args(spec, tokens[-1], kind, _numbers(spec, tokens[-1], m.groups()))
    elif kind == "RaBitQ":
        bits = 1 if m.group(1) is None else _numbers(spec, tokens[-1], m.groups())[0]
        if not 1 <= bits <= 9:
            raise _bad(spec, f"{tokens[-1]!r}: RaBitQ bits must be 1..9")
        args = (bits,)
    elif kind in ("TOPK", "MP"):
        args = _numbers(spec, tokens[-1], m.groups())
    else:
        args = ()
    return Spec(",".join(tokens), tuple(transforms), Piece(kind, tokens[-1], args))


def _additive_args(spec: str, token: str, kind: str, numbers: tuple) -> tuple:
    """``(m, bits, *settings[, splits])``: m codebooks (per split) of ``bits``; settings default to faiss's."""
    if kind in ("PRQ", "PLSQ"):
        splits, numbers = numbers[0], numbers[1:]
    m_sub, bits, *rest = numbers
    if not 1 <= bits <= MAX_CODEBOOK_BITS:
        raise _bad(spec, f"{token!r}: bits per codebook must be 1..{MAX_CODEBOOK_BITS}")
    if m_sub * (splits if kind in ("PRQ", "PLSQ") else 1) > MAX_RQ_CODEBOOKS:
        raise _bad(spec, f"{token!r}: at most {MAX_RQ_CODEBOOKS} codebooks")
    defaults = (5,) if kind in ("RQ", "PRQ") else (16, 25)
    settings = tuple(d if v is None else v for v, d in zip(rest, defaults))
    if any(not 1 <= s <= MAX_ADDITIVE_SETTING for s in settings):
        raise _bad(spec, f"{token!r}: beam sizes and iteration counts must be 1..{MAX_ADDITIVE_SETTING}")
    return (m_sub, bits, *settings) + ((splits,) if kind in ("PRQ", "PLSQ") else ())
