"""Position schemes as arrays a student can look at: tables, similarities, rotations, resampling.

Everything here is plain numpy/torch and returns numpy arrays, so the positional-encoding
page (and a notebook) can draw them. The maths follows:

* Vaswani et al. 2017, Section 3.5: PE(pos, 2i) = sin(pos * w_i), PE(pos, 2i+1) = cos(pos * w_i),
  w_i = base^(-2i/d). "For any fixed offset k, PE(pos+k) can be represented as a linear function
  of PE(pos)": the function is a block-diagonal rotation M_k (``shift_matrix``).
* Su et al. 2021 (RoFormer), Eq. 16: rotating q at position m and k at position n makes q.k a
  function of m - n only (``rope_scores``).
* Dosovitskiy et al. 2021 (ViT), Figure 7 (position-embedding similarity) and Section 3.2
  (2-D interpolation of the learned table for a higher resolution).

Nothing here mutates a model: shared zoo models are read with ``torch.no_grad`` and ``detach``.
A few pure functions of (length, d_model, base, ...) are also kept in small process-wide LRU caches
(``cached_sinusoidal_table``, ``sinusoidal_similarity``, ``check_shift_property``) so a page rerun
does not redo them; cached arrays are read-only, so no caller can change what another one sees.
The first section validates what the page's widgets and URL can hand us, so the page can show
a one-line message instead of a traceback.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import torch

from explorer.models.positions import interpolate_pos_embed, inverse_frequencies, wavelength
from explorer.models.transformer import Transformer
from explorer.models.vit import ViT

# ---------------------------------------------------------------------------------------------
# Limits and validation of user-controlled settings
# ---------------------------------------------------------------------------------------------

DEFAULT_D_MODEL = 128
DEFAULT_MAX_LEN = 100
DEFAULT_BASE = 10000.0
# Caps chosen so the heaviest view (Compare, two similarity matrices) stays well under a second
# of server time and a few MB of chart data; measured numbers are in the page's closing note.
D_MODEL_CAP = 1024
MAX_LEN_CAP = 1024
BASE_CAP = 1e12
MAX_CURVES = 6
GRID_CAP = 16  # largest ViT grid side drawn as a Figure-7 grid (16 x 16 tiles of 16 x 16 cells)

SIMILARITY_METRICS = ("cosine", "dot product")
INTERPOLATION_MODES = ("bicubic", "bilinear", "nearest")
SCHEMES = (
    "sinusoidal",
    "RoPE (one random vector)",
    "learned: dates model (source)",
    "learned: ViT patches (row-major)",
    "none",
)


@dataclass(frozen=True)
class SinusoidSettings:
    """Validated (d_model, max_len, base) for the sinusoidal table; always drawable."""

    d_model: int = DEFAULT_D_MODEL
    max_len: int = DEFAULT_MAX_LEN
    base: float = DEFAULT_BASE


T = TypeVar("T")


@dataclass
class Checked(Generic[T]):
    """A validated value plus the problems found on the way (errors: fell back; warnings: adjusted)."""

    value: T
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def as_number(value: object) -> float | None:
    """A finite float from an int/float/numeric string, else None (bools are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def check_d_model(value: object) -> Checked[int]:
    """d_model must be a positive even whole number (sin/cos pairs), at most ``D_MODEL_CAP``."""
    number = as_number(value)
    if number is None or number != int(number):
        return Checked(DEFAULT_D_MODEL, errors=[f"The width d_model must be a whole number; using {DEFAULT_D_MODEL}."])
    d = int(number)
    if d <= 0:
        return Checked(DEFAULT_D_MODEL, errors=[f"The width d_model must be at least 2 (got {d}); using {DEFAULT_D_MODEL}."])
    if d > D_MODEL_CAP:
        return Checked(D_MODEL_CAP, warnings=[f"A width d_model of {d} is more than this page draws quickly; capped at {D_MODEL_CAP}."])
    if d % 2:
        return Checked(d + 1, warnings=[f"The width d_model must be even (each frequency gives a sine and a cosine); using {d + 1}."])
    return Checked(d)


def check_max_len(value: object) -> Checked[int]:
    """Maximum length must be a whole number in [1, ``MAX_LEN_CAP``]."""
    number = as_number(value)
    if number is None or number != int(number):
        return Checked(DEFAULT_MAX_LEN, errors=[f"The maximum length must be a whole number; using {DEFAULT_MAX_LEN}."])
    length = int(number)
    if length <= 0:
        return Checked(
            DEFAULT_MAX_LEN, errors=[f"The maximum length must be at least 1 (got {length}); using {DEFAULT_MAX_LEN}."]
        )
    if length > MAX_LEN_CAP:
        return Checked(
            MAX_LEN_CAP, warnings=[f"A maximum length of {length} is more than this page draws quickly; capped at {MAX_LEN_CAP}."]
        )
    return Checked(length)


def check_base(value: object) -> Checked[float]:
    """The base must be a finite number > 1 (base <= 1 gives no, or growing, frequencies)."""
    number = as_number(value)
    if number is None:
        return Checked(DEFAULT_BASE, errors=[f"The base must be a finite number; using {DEFAULT_BASE:g}."])
    if number <= 1.0:
        return Checked(
            DEFAULT_BASE, errors=[f"The base must be greater than 1 (got {number:g}); using {DEFAULT_BASE:g}."]
        )
    if number > BASE_CAP:
        return Checked(BASE_CAP, warnings=[f"A base of {number:g} is beyond {BASE_CAP:g}; capped."])
    return Checked(float(number))


def check_settings(d_model: object, max_len: object, base: object) -> tuple[SinusoidSettings, list[str], list[str]]:
    """Validate the three shared controls; returns settings, errors and warnings (one line each)."""
    d_check, length_check, base_check = check_d_model(d_model), check_max_len(max_len), check_base(base)
    checks: list[Checked[int] | Checked[float]] = [d_check, length_check, base_check]
    settings = SinusoidSettings(d_check.value, length_check.value, base_check.value)
    errors = [e for c in checks for e in c.errors]
    warnings = [w for c in checks for w in c.warnings]
    return settings, errors, warnings


def check_int_range(value: object, name: str, low: int, high: int, default: int) -> Checked[int]:
    """A whole number in [low, high]; out of range is clamped with a warning, nonsense falls back."""
    number = as_number(value)
    if number is None or number != int(number):
        return Checked(default, errors=[f"The {name} must be a whole number; using {default}."])
    whole = int(number)
    if whole < low or whole > high:
        clamped = min(max(whole, low), high)
        return Checked(clamped, warnings=[f"The {name} must be between {low} and {high}; using {clamped}."])
    return Checked(whole)


def check_choice(value: object, name: str, choices: tuple[str, ...], default: str) -> Checked[str]:
    """One of ``choices`` exactly; anything else falls back to ``default``."""
    if isinstance(value, str) and value in choices:
        return Checked(value)
    return Checked(default, errors=[f"The {name} must be one of: {', '.join(choices)}; using {default}."])


def parse_dimensions(text: object, d_model: int, limit: int = MAX_CURVES) -> Checked[list[int]]:
    """Parse "0, 1, 20" into encoding dimensions in [0, d_model); blank means automatic.

    The message never repeats the user's text (it could carry markdown); it says what was ignored.
    """
    if not isinstance(text, str) or not text.strip():
        return Checked(auto_dimensions(d_model))
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()[:500]) if t]
    dims: list[int] = []
    bad = 0
    for token in tokens:
        if re.fullmatch(r"\d{1,6}", token) and int(token) < d_model:
            if int(token) not in dims:
                dims.append(int(token))
        else:
            bad += 1
    warnings = []
    if bad:
        warnings.append(f"Ignored {bad} entr{'y' if bad == 1 else 'ies'} that are not dimensions between 0 and {d_model - 1}.")
    if len(dims) > limit:
        warnings.append(f"Only the first {limit} dimensions are drawn.")
        dims = dims[:limit]
    if not dims:
        dims = auto_dimensions(d_model)
        warnings.append("No valid dimension given; drawing automatic ones.")
    return Checked(dims, warnings=warnings)


def auto_dimensions(d_model: int) -> list[int]:
    """A sine/cosine pair at the fastest frequency and two slower sines, spread over the spectrum."""
    picks = [0, 1, 2 * (d_model // 16), 2 * (d_model // 8)]
    return sorted({p for p in picks if p < d_model})


# ---------------------------------------------------------------------------------------------
# Sinusoidal encoding (Vaswani et al. 2017, Section 3.5)
# ---------------------------------------------------------------------------------------------


def frequencies(d_model: int, base: float = DEFAULT_BASE) -> np.ndarray:
    """w_i = base^(-2i/d), computed in float64 from start to end.

    The model's ``inverse_frequencies`` checks the same arguments and rounds w_i to float32
    (relative error <= 2^-24), which moves the angle pos * w_i by up to ~6e-8 * pos radians;
    float64 frequencies keep the page's identities (rotation, offset-only scores) at ~1e-12.
    """
    inverse_frequencies(d_model, base)  # the model's validation: one set of error messages
    exponents = np.arange(0, d_model, 2, dtype=np.float64) / d_model
    return np.power(float(base), -exponents)


def sinusoidal_table(max_len: int, d_model: int, base: float = DEFAULT_BASE) -> np.ndarray:
    """PE (max_len, d_model) in float64; even columns sin(pos w_i), odd columns cos(pos w_i).

    Every step (frequencies, angles, sin/cos) is float64, which lets the page show the rotation
    identity to ~1e-12; ``explorer.models.positions.sinusoidal_encoding`` (what the model adds)
    computes the same way and differs only by rounding its result to float32.
    """
    if max_len <= 0:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    angles = np.arange(max_len, dtype=np.float64)[:, None] * frequencies(d_model, base)[None, :]
    table = np.empty((max_len, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table


# Process-wide caches for the page's reruns: every entry is a pure function of its (immutable)
# arguments. Bounded by entries; the largest entry is one 1024 x 1024 float64 matrix (8 MiB), so
# the table and similarity caches hold at most 64 MiB together.
TABLE_CACHE_ENTRIES = 4


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=TABLE_CACHE_ENTRIES)
def cached_sinusoidal_table(max_len: int, d_model: int, base: float = DEFAULT_BASE) -> np.ndarray:
    """``sinusoidal_table`` shared by every caller in the process: read-only (copy it to change it)."""
    return _read_only(sinusoidal_table(max_len, d_model, base))


@dataclass(frozen=True)
class SimilarityView:
    """Position x position similarity of a sinusoidal table, with what the page shows next to it."""

    matrix: np.ndarray  # (L, L), read-only
    colour_range: tuple[float, float]  # ``shared_colour_range([matrix], metric)``


@functools.lru_cache(maxsize=TABLE_CACHE_ENTRIES)
def sinusoidal_similarity(max_len: int, d_model: int, base: float = DEFAULT_BASE, metric: str = "cosine") -> SimilarityView:
    """``position_similarity(sinusoidal_table(...), metric)``, cached process-wide (read-only matrix)."""
    matrix = _read_only(position_similarity(cached_sinusoidal_table(max_len, d_model, base), metric))
    return SimilarityView(matrix, shared_colour_range([matrix], metric))


@functools.lru_cache(maxsize=64)  # one float per entry
def sinusoidal_similarity_spread(max_len: int, d_model: int, base: float = DEFAULT_BASE, metric: str = "cosine") -> float:
    """``distance_dependence_spread`` of ``sinusoidal_similarity(...)``, cached process-wide."""
    return distance_dependence_spread(sinusoidal_similarity(max_len, d_model, base, metric).matrix)


def wavelengths(dims: list[int], d_model: int, base: float = DEFAULT_BASE) -> list[float]:
    """Wavelength in positions of each dimension: 2 pi base^(2i/d) (a geometric progression)."""
    return [wavelength(d, d_model, base) for d in dims]


def position_similarity(table: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """(L, L) similarity between the rows of a position table; "cosine" or "dot product"."""
    if metric not in SIMILARITY_METRICS:
        raise ValueError(f"metric must be one of {SIMILARITY_METRICS}, got {metric!r}")
    table = np.asarray(table, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        table = table / np.maximum(norms, 1e-12)
    return table @ table.T


def distance_dependence_spread(matrix: np.ndarray) -> float:
    """Largest spread (max - min) along any diagonal of a square matrix.

    Zero means every entry depends only on the offset n - m (a Toeplitz matrix), which is what
    sinusoidal dot products and RoPE scores should give.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    size = matrix.shape[0]
    spread = 0.0
    for offset in range(-(size - 1), size):
        diagonal = np.diagonal(matrix, offset)
        if diagonal.size > 1:
            spread = max(spread, float(diagonal.max() - diagonal.min()))
    return spread


def shift_matrix(k: int, d_model: int, base: float = DEFAULT_BASE) -> np.ndarray:
    """M_k (d, d): block-diagonal rotations with PE(pos + k) = M_k PE(pos) for every pos.

    Each (sin, cos) pair at frequency w rotates by the angle k w:
    [sin((p+k)w), cos((p+k)w)] = [[cos kw, sin kw], [-sin kw, cos kw]] [sin pw, cos pw].
    M_k depends on k only, never on pos: "a linear function" in Section 3.5.
    """
    angles = k * frequencies(d_model, base)
    cos, sin = np.cos(angles), np.sin(angles)
    matrix = np.zeros((d_model, d_model), dtype=np.float64)
    even = np.arange(0, d_model, 2)
    matrix[even, even] = cos
    matrix[even, even + 1] = sin
    matrix[even + 1, even] = -sin
    matrix[even + 1, even + 1] = cos
    return matrix


@dataclass(frozen=True)
class ShiftCheck:
    """Result of checking PE(pos + k) = M_k PE(pos) over every pos with pos + k < max_len."""

    k: int
    n_positions: int
    max_abs_error_f64: float
    max_abs_error_f32: float
    is_orthogonal_error: float


@functools.lru_cache(maxsize=64)  # results are a few floats; the inputs are the page's three settings and k
def check_shift_property(max_len: int, d_model: int, k: int, base: float = DEFAULT_BASE) -> ShiftCheck:
    """Apply M_k to every PE(pos) and compare with PE(pos + k), in float64 and in the model's float32.

    Negative k works too (M_{-k} = M_k^T). Positions that would fall outside [0, max_len) are skipped.
    Pure and deterministic, so results are cached process-wide (an immutable ``ShiftCheck``).
    """
    table = cached_sinusoidal_table(max_len, d_model, base)
    matrix = shift_matrix(k, d_model, base)
    lo, hi = max(0, -k), min(max_len, max_len - k)
    if hi <= lo:
        return ShiftCheck(k, 0, float("nan"), float("nan"), float(np.abs(matrix @ matrix.T - np.eye(d_model)).max()))
    source, target = table[lo:hi], table[lo + k : hi + k]
    predicted = source @ matrix.T  # row-wise M_k PE(pos)
    table32 = table.astype(np.float32)
    predicted32 = table32[lo:hi] @ matrix.astype(np.float32).T
    return ShiftCheck(
        k=k,
        n_positions=hi - lo,
        max_abs_error_f64=float(np.abs(predicted - target).max()),
        max_abs_error_f32=float(np.abs(predicted32 - table32[lo + k : hi + k]).max()),
        is_orthogonal_error=float(np.abs(matrix @ matrix.T - np.eye(d_model)).max()),
    )


# ---------------------------------------------------------------------------------------------
# Rotary position embeddings (Su et al. 2021)
# ---------------------------------------------------------------------------------------------


def random_query_key(d_model: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible query and key vector (standard normal), shape (d,) each."""
    generator = np.random.default_rng(seed)
    return generator.standard_normal(d_model), generator.standard_normal(d_model)


def rope_rotate(vector: np.ndarray, positions: np.ndarray, base: float = DEFAULT_BASE) -> np.ndarray:
    """The vector rotated at each position, (P, d): pair i turns by pos * w_i (RoFormer Eq. 13-15).

    Same frequencies and pair layout as the model's ``apply_rope`` (a test checks they agree), but
    the angles are formed in float64: the model forms them in float32, which is exact enough for
    training yet would blur the page's "equal scores" table in the fifth decimal.
    """
    vector = np.asarray(vector, dtype=np.float64)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * frequencies(vector.shape[0], base)[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    even, odd = vector[0::2][None, :], vector[1::2][None, :]
    rotated = np.empty((angles.shape[0], vector.shape[0]), dtype=np.float64)
    rotated[:, 0::2] = even * cos - odd * sin
    rotated[:, 1::2] = even * sin + odd * cos
    return rotated


def rope_pair_trajectory(vector: np.ndarray, pair: int, positions: np.ndarray, base: float = DEFAULT_BASE) -> np.ndarray:
    """The 2-D pair (x[2i], x[2i+1]) of ``vector`` after rotation at each position: (P, 2)."""
    return rope_rotate(vector, positions, base)[:, 2 * pair : 2 * pair + 2]


def rope_scores(
    q: np.ndarray, k: np.ndarray, query_positions: np.ndarray, key_positions: np.ndarray, base: float = DEFAULT_BASE
) -> np.ndarray:
    """q_m . k_n for each query position m (rows) and key position n (columns), RoPE applied."""
    return rope_rotate(q, query_positions, base) @ rope_rotate(k, key_positions, base).T


def additive_scores(q: np.ndarray, k: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(q + PE_m) . (k + PE_n) for all m, n: the original additive scheme, for contrast.

    Expanding gives q.k + q.PE_n + PE_m.k + PE_m.PE_n; the middle two terms see absolute positions.
    """
    return (q[None, :] + table) @ (k[None, :] + table).T


@dataclass(frozen=True)
class RelativeTable:
    """Scores at one offset m - n for several absolute positions, RoPE and additive side by side."""

    query_positions: list[int]
    key_positions: list[int]
    offset: int
    rope: list[float]
    additive: list[float]

    @property
    def rope_spread(self) -> float:
        return float(max(self.rope) - min(self.rope)) if self.rope else float("nan")

    @property
    def additive_spread(self) -> float:
        return float(max(self.additive) - min(self.additive)) if self.additive else float("nan")

    def rows(self) -> list[dict[str, float | int]]:
        """Rows for a table widget: query m, key n, offset, both scores."""
        return [
            {"query position m": m, "key position n": n, "m - n": self.offset, "RoPE q_m·k_n": r, "additive score": a}
            for m, n, r, a in zip(self.query_positions, self.key_positions, self.rope, self.additive)
        ]


def relative_offset_table(
    q: np.ndarray, k: np.ndarray, offset: int, max_len: int, base: float = DEFAULT_BASE, n_rows: int = 6
) -> RelativeTable:
    """Scores for pairs (m, m - offset) spread over [0, max_len): RoPE equal, additive not."""
    start = max(0, offset)
    stop = min(max_len, max_len + offset)  # need 0 <= m - offset < max_len and m < max_len
    if stop <= start:
        return RelativeTable([], [], offset, [], [])
    candidates = np.unique(np.linspace(start, stop - 1, num=n_rows).round().astype(int))
    queries = [int(m) for m in candidates]
    keys = [m - offset for m in queries]
    rope = [float(rope_scores(q, k, np.array([m]), np.array([n]), base)[0, 0]) for m, n in zip(queries, keys)]
    table = sinusoidal_table(max(max(queries), max(keys)) + 1, q.shape[0], base)
    additive = [float((q + table[m]) @ (k + table[n])) for m, n in zip(queries, keys)]
    return RelativeTable(queries, keys, offset, rope, additive)


# ---------------------------------------------------------------------------------------------
# Learned tables from the models (read-only)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPositions:
    """What a text Transformer uses for positions, and its tables when they are learned."""

    scheme: str  # "learned" | "sinusoidal" | "rope" | "none"
    source: np.ndarray | None = None  # (max_len, D)
    target: np.ndarray | None = None
    d_model: int = 0
    max_len: int = 0


def text_positions(model: torch.nn.Module) -> TextPositions:
    """Read the position tables of an ``explorer.models.Transformer`` without touching its state."""
    if not isinstance(model, Transformer):
        raise TypeError(f"expected an explorer.models.Transformer, got {type(model).__name__}")
    config = model.config
    source_table, target_table = model.src_embed.positions, model.tgt_embed.positions
    if config.positions != "learned" or source_table is None or target_table is None:
        return TextPositions(config.positions, d_model=config.d_model, max_len=config.max_len)
    with torch.no_grad():
        source = source_table.weight.detach().to("cpu", torch.float64).numpy().copy()
        target = target_table.weight.detach().to("cpu", torch.float64).numpy().copy()
    return TextPositions(config.positions, source, target, config.d_model, config.max_len)


@dataclass(frozen=True)
class PatchPositions:
    """A ViT's patch position table (without [CLS]) and its grid."""

    scheme: str  # "learned" | "sinusoidal" | "none"
    table: np.ndarray | None  # (gh*gw, D), row-major patches
    grid: tuple[int, int]
    full: torch.Tensor | None = None  # (1, 1+N, D), detached copy, for interpolation


def vit_positions(vit: torch.nn.Module) -> PatchPositions:
    """Patch position embeddings of an ``explorer.models.ViT`` at its training grid (read-only)."""
    if not isinstance(vit, ViT):
        raise TypeError(f"expected an explorer.models.ViT, got {type(vit).__name__}")
    grid = vit.grid_size
    scheme = vit.config.positions
    with torch.no_grad():
        full = vit.position_embeddings(grid)
    if full is None:
        return PatchPositions(scheme, None, grid)
    full = full.detach().to("cpu", torch.float32).clone()
    table = full[0, 1:].to(torch.float64).numpy()
    return PatchPositions(scheme, table, grid, full)


def patch_similarity_grid(table: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """ViT Figure 7: cosine similarity of each patch's embedding with every patch, (gh, gw, gh, gw).

    Entry [r, c, :, :] is the small image drawn in the place of patch (r, c).
    """
    gh, gw = grid
    if table.shape[0] != gh * gw:
        raise ValueError(f"table has {table.shape[0]} rows, expected {gh}x{gw} patches")
    return position_similarity(table, "cosine").reshape(gh, gw, gh, gw)


def neighbour_contrast(similarity: np.ndarray) -> tuple[float, float]:
    """Mean cosine to the 4 grid neighbours vs. to all other non-neighbour patches.

    A learned 2-D layout shows up as neighbours being clearly more similar than the rest.
    """
    gh, gw = similarity.shape[:2]
    near: list[float] = []
    far: list[float] = []
    for r in range(gh):
        for c in range(gw):
            mask = np.ones((gh, gw), dtype=bool)
            mask[r, c] = False
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < gh and 0 <= cc < gw:
                    near.append(float(similarity[r, c, rr, cc]))
                    mask[rr, cc] = False
            far.extend(similarity[r, c][mask].tolist())
    return (float(np.mean(near)) if near else float("nan"), float(np.mean(far)) if far else float("nan"))


def resample_patch_positions(
    positions: PatchPositions, new_grid: tuple[int, int], mode: str = "bicubic", vit: torch.nn.Module | None = None
) -> np.ndarray:
    """Patch table (nh*nw, D) for a new grid: 2-D interpolation of a learned table (ViT Section 3.2).

    A sinusoidal ViT needs no interpolation: its table is recomputed for the new grid.
    """
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"mode must be one of {INTERPOLATION_MODES}, got {mode!r}")
    if positions.full is None:
        raise ValueError("this model has no position embeddings to resample")
    if positions.scheme == "sinusoidal" and isinstance(vit, ViT):
        with torch.no_grad():
            fresh = vit.position_embeddings(new_grid)
        if fresh is not None:
            return fresh[0, 1:].detach().to("cpu", torch.float64).numpy()
    resized = interpolate_pos_embed(positions.full, positions.grid, new_grid, mode=mode)
    return resized[0, 1:].detach().to(torch.float64).numpy()


# ---------------------------------------------------------------------------------------------
# Compare two schemes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeMatrix:
    """A position-by-position similarity matrix for one scheme, with a note for the caption."""

    name: str
    matrix: np.ndarray | None
    note: str = ""


def scheme_similarity(
    name: str,
    settings: SinusoidSettings,
    metric: str,
    text: TextPositions | None = None,
    patches: PatchPositions | None = None,
    seed: int = 0,
) -> SchemeMatrix:
    """Similarity between positions 0..L-1 under one scheme (L = settings.max_len, or the table's length).

    Every scheme answers "how alike is the same content at positions m and n?". For RoPE that is
    one random vector x rotated to both positions, R_m x . R_n x = x . R_(n-m) x (cosine: divided by
    |x|^2, rotations keep norms): a function of n - m only (RoFormer Section 3.4.3's decay with
    distance). A random query against a different random key would be near zero everywhere
    (|q.k| ~ sqrt(d) << |q||k|), a blank panel. "none" gives the same vector at every position: all ones.
    """
    length = settings.max_len
    if name == "sinusoidal":
        table = sinusoidal_table(length, settings.d_model, settings.base)
        return SchemeMatrix(name, position_similarity(table, metric))
    if name.startswith("RoPE"):
        vector, _ = random_query_key(settings.d_model, seed)
        positions = np.arange(length)
        scores = rope_scores(vector, vector, positions, positions, settings.base)
        if metric == "cosine":
            scores = scores / float(vector @ vector)
        return SchemeMatrix(name, scores, f"one random vector of size {settings.d_model} rotated to every position")
    if name == "none":
        ones = np.ones((length, settings.d_model)) / math.sqrt(settings.d_model)
        return SchemeMatrix(name, position_similarity(ones, metric), "every position gets the same (no) signal")
    if name.startswith("learned: dates"):
        if text is None or text.source is None:
            scheme = "unknown" if text is None else text.scheme
            return SchemeMatrix(name, None, f"the dates model has no learned table (it uses {scheme} positions)")
        table = text.source[:length]
        note = f"first {table.shape[0]} of {text.source.shape[0]} learned positions"
        return SchemeMatrix(name, position_similarity(table, metric), note)
    if name.startswith("learned: ViT"):
        if patches is None or patches.table is None:
            return SchemeMatrix(name, None, "the ViT has no position table")
        table = patches.table[:length]
        gh, gw = patches.grid
        note = f"{table.shape[0]} of {gh}x{gw} patches in row-major order (a new row every {gw})"
        return SchemeMatrix(name, position_similarity(table, metric), note)
    raise ValueError(f"unknown scheme {name!r}; choose one of {SCHEMES}")


def available_schemes(text: TextPositions | None, patches: PatchPositions | None) -> tuple[str, ...]:
    """The schemes with something to draw: a learned entry only when that model has a learned table."""
    missing = set()
    if text is None or text.source is None:
        missing.add("learned: dates model (source)")
    if patches is None or patches.table is None or patches.scheme != "learned":
        missing.add("learned: ViT patches (row-major)")
    return tuple(name for name in SCHEMES if name not in missing)


def similarity_by_distance(matrix: np.ndarray) -> np.ndarray:
    """Mean of each diagonal n - m = 0, 1, ..., L-1 of a square similarity matrix: (L,).

    For a scheme whose similarity depends on the distance only (sinusoidal, RoPE: a Toeplitz
    matrix) the mean is the value itself; for a learned table it averages over absolute positions.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.array([np.diagonal(matrix, offset).mean() for offset in range(matrix.shape[0])])


def shared_colour_range(matrices: list[np.ndarray], metric: str) -> tuple[float, float]:
    """One colour range for side-by-side heatmaps, symmetric about 0: [-1, 1] for cosine, [-m, m] otherwise.

    The heatmaps use a diverging scale (blue negative, white zero, red positive), so the range
    must be centred on 0: with the joint min/max a dot-product matrix whose values all lie in
    23.8..64 would be drawn half blue although nothing in it is negative. m is the largest
    absolute value over all matrices.
    """
    if metric == "cosine" or not matrices:
        return -1.0, 1.0
    largest = max(float(np.max(np.abs(m))) for m in matrices)
    if not largest > 0:
        largest = 1.0
    return -largest, largest
