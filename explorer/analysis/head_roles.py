"""What each attention head of a causal language model does, as one number per (layer, head).

Scores, all in [0, 1], computed from attention maps (layers, heads, queries, keys):

* previous-token: mean weight a token puts on the token just before it (Olsson et al. 2022,
  "In-context Learning and Induction Heads", the first half of the induction circuit);
* induction: on a random token sequence repeated twice, mean weight each token of the second
  copy puts on the token that FOLLOWED its first occurrence (Olsson et al. 2022, "prefix
  matching" score; a random sequence rules out any meaning-based explanation);
* first-token (attention sink): mean weight on position 0 (Xiao et al. 2024, "Efficient
  Streaming Language Models with Attention Sinks", Section 3.1);
* self: mean weight a token puts on itself;
* entropy: mean normalised entropy of the rows that see at least two keys (Clark et al. 2019,
  Section 3.3): 0 = every query looks at one key, 1 = uniform over the visible keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from explorer.analysis.heads import causal_mask, head_entropy

SCORES = ("previous_token", "induction", "first_token", "self", "entropy")
SCORE_CAPTIONS = {
    "previous_token": "mean attention from each token to the token just before it (on the prompt)",
    "induction": "on a built-in random token sequence repeated twice: mean attention from each second-copy "
    "token to the token that followed its first occurrence",
    "first_token": "mean attention to the first token (an 'attention sink'), from every later token (on the prompt)",
    "self": "mean attention from each token to itself (on the prompt)",
    "entropy": "mean normalised entropy of the attention rows (0 = one key, 1 = uniform), rows with >= 2 visible keys",
}
PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff, and every evening the keeper climbed its narrow stairs "
    "to light the lamp. Ships far out at sea watched for the beam, knowing that the rocks below had sunk many "
    "boats before them. One winter night a storm broke the glass, and the keeper worked until dawn to keep the "
    "flame alive."
)
INDUCTION_LENGTH = 50
INDUCTION_SEED = 0


def previous_token_score(maps: np.ndarray) -> np.ndarray:
    """(L, H, T, T) -> (L, H): mean of A[i, i-1] over i >= 1."""
    n = maps.shape[-1]
    return maps[..., np.arange(1, n), np.arange(0, n - 1)].mean(axis=-1)


def first_token_score(maps: np.ndarray) -> np.ndarray:
    """(L, H, T, T) -> (L, H): mean of A[i, 0] over i >= 1 (query 0 can only look at itself)."""
    return maps[..., 1:, 0].mean(axis=-1)


def self_score(maps: np.ndarray) -> np.ndarray:
    """(L, H, T, T) -> (L, H): mean of A[i, i] over i >= 1."""
    n = maps.shape[-1]
    return maps[..., np.arange(1, n), np.arange(1, n)].mean(axis=-1)


def entropy_score(maps: np.ndarray) -> np.ndarray:
    """(L, H, T, T) -> (L, H): mean normalised entropy under the causal mask."""
    return head_entropy(maps, normalise=True, mask=causal_mask(maps.shape[-2], maps.shape[-1]))


def induction_score(maps: np.ndarray, period: int, start: int = 0) -> np.ndarray:
    """(L, H, T, T) -> (L, H) on ``prefix (start tokens) + r + r`` with ``len(r) == period``.

    The second-copy token at position p saw the same token at p - period; the induction target is
    the one after it, p - period + 1.
    """
    queries = np.arange(start + period, start + 2 * period)
    return maps[..., queries, queries - period + 1].mean(axis=-1)


def induction_tokens(vocab_size: int, length: int = INDUCTION_LENGTH, seed: int = INDUCTION_SEED, skip: int = 1000) -> list[int]:
    """A seeded random token sequence repeated twice (ids from ``skip`` up: no special or byte tokens)."""
    generator = np.random.default_rng(seed)
    first = generator.integers(skip, vocab_size, size=length).tolist()
    return first + first


def attention_maps(model: Any, ids: Sequence[int], ablate_heads: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """Every head's attention on ``ids``: (L, H, T, T) float32 numpy."""
    with torch.inference_mode():
        out = model(torch.tensor([list(ids)]), return_attention=True, ablate_heads=ablate_heads, last_only=True)
    assert out.attention is not None
    return torch.stack([m[0] for m in out.attention["self"]]).numpy()


@dataclass(frozen=True)
class HeadRoles:
    """Every score as an (L, H) array; ``maps`` on the text used for the prompt-based scores."""

    scores: dict[str, np.ndarray]

    def table(self) -> list[dict[str, float | int]]:
        """One row per head: layer, head (from 0) and every score."""
        n_layers, n_heads = self.scores[SCORES[0]].shape
        return [
            {"layer": layer, "head": head, **{name: float(self.scores[name][layer, head]) for name in SCORES}}
            for layer in range(n_layers)
            for head in range(n_heads)
        ]


def prompt_scores(maps: np.ndarray) -> dict[str, np.ndarray]:
    """The four scores read from attention on a prompt (everything but induction)."""
    return {
        "previous_token": previous_token_score(maps),
        "first_token": first_token_score(maps),
        "self": self_score(maps),
        "entropy": entropy_score(maps),
    }


def induction_scores(model: Any, vocab_size: int, length: int = INDUCTION_LENGTH, seed: int = INDUCTION_SEED) -> np.ndarray:
    """(L, H) induction scores on the built-in repeated random sequence."""
    ids = induction_tokens(vocab_size, length, seed)
    return induction_score(attention_maps(model, ids), period=length)


def head_roles(model: Any, tokenizer: Any, text: str = PARAGRAPH) -> HeadRoles:
    """All five scores: four on ``text`` (default a fixed English paragraph), induction on the built-in sequence."""
    maps = attention_maps(model, tokenizer.encode(text))
    scores = prompt_scores(maps)
    scores["induction"] = induction_scores(model, tokenizer.vocab_size)
    return HeadRoles(scores={name: scores[name] for name in SCORES})
