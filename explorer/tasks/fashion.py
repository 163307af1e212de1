"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28 x 28 grayscale clothing, 10 classes.

The images come from Debian's ``dataset-fashion-mnist`` package (MIT licence): four IDX files,
gzip-compressed, in ``/usr/share/datasets/fashion-mnist``. Nothing is downloaded here; when the
files are missing, :class:`DatasetMissing` says in one line how to get them, with or without root.

IDX format (LeCun et al.'s MNIST page): a big-endian header ``0x00 0x00 <type> <ndim>``, then
``ndim`` big-endian uint32 sizes, then the raw values; type 0x08 is unsigned bytes.

Images keep Fashion-MNIST's look: a light garment on a black background, centred, filling most
of the 28 x 28 frame. ``explorer.inputs.images.to_fashion_look`` brings an upload to that look.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
IMAGE_SIZE = 28
ENV_VAR = "EXPLORER_FASHION_DIR"
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
_PACKAGE_SUBDIR = Path("usr/share/datasets/fashion-mnist")  # where `dpkg-deb -x pkg.deb DIR` puts them under DIR
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
# Mean and standard deviation of the 60 000 training images' pixels in [0, 1] (measured, rounded).
MEAN = 0.2860
STD = 0.3530
HOW_TO_INSTALL = (
    "install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist), or without root: "
    "apt-get download dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb DIR, "
    f"then set {ENV_VAR}=DIR/usr/share/datasets/fashion-mnist"
)


class DatasetMissing(FileNotFoundError):
    """Fashion-MNIST files are not where we looked; ``str(e)`` is one line with the fix."""


def candidate_dirs(root: Path | str | None = None) -> list[Path]:
    """Where to look, in order: the argument, $EXPLORER_FASHION_DIR, the Debian path.

    Each is also tried with the ``usr/share/datasets/fashion-mnist`` suffix that ``dpkg-deb -x``
    creates, so pointing at the extraction directory itself works too.
    """
    bases: list[Path] = []
    if root is not None:
        bases.append(Path(root))
    env = os.environ.get(ENV_VAR)
    if env:
        bases.append(Path(env))
    bases.append(DEFAULT_DIR)
    out: list[Path] = []
    for base in bases:
        for path in (base, base / _PACKAGE_SUBDIR):
            if path not in out:
                out.append(path)
    return out


def find_dataset_dir(root: Path | str | None = None) -> Path:
    """The first candidate directory holding all four files, else :class:`DatasetMissing`."""
    needed = [name for pair in FILES.values() for name in pair]
    for path in candidate_dirs(root):
        if all((path / name).is_file() for name in needed):
            return path
    looked = ", ".join(str(p) for p in candidate_dirs(root)[:3])
    raise DatasetMissing(f"Fashion-MNIST not found (looked in {looked}): {HOW_TO_INSTALL}")


def read_idx(path: Path | str) -> np.ndarray:
    """Read one (optionally gzip-compressed) IDX file of unsigned bytes into an array of its shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path.name} is not a readable IDX file ({error}); reinstall the dataset: {HOW_TO_INSTALL}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path.name} is not an IDX file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path.name}: IDX type 0x{dtype_code:02x} is not unsigned bytes")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path.name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise ValueError(f"{path.name}: expected {expected} values for shape {shape}, found {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_split(split: str, root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels int64 (N,) of ``"train"`` or ``"test"``."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    directory = find_dataset_dir(root)
    images_name, labels_name = FILES[split]
    images = read_idx(directory / images_name)
    labels = read_idx(directory / labels_name).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or labels.shape != (images.shape[0],):
        raise ValueError(f"{split}: unexpected shapes {images.shape} and {labels.shape}")
    if labels.max(initial=0) >= len(CLASSES):
        raise ValueError(f"{split}: label {labels.max()} out of range")
    return images, labels


def to_tensor(images: np.ndarray, mean: float = MEAN, std: float = STD) -> torch.Tensor:
    """uint8 (N, 28, 28) or (28, 28) -> normalised float32 (N, 1, 28, 28)."""
    x = torch.tensor(np.asarray(images), dtype=torch.float32) / 255.0
    if x.ndim == 2:
        x = x[None]
    return ((x - mean) / std)[:, None]


def validation_split(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) of a seeded random split of the ``n`` training images.

    The validation part is used for temperature scaling and the OOD threshold; the test split
    is never seen until the final evaluation.
    """
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[size:]), np.sort(order[:size])
