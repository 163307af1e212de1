"""What an attention sub-layer saw and produced, kept per layer when a caller asks for it.

The views need more than the weights: the step-by-step view recomputes Eq. 1 of Vaswani et al.
2017 from the inputs the module really read, and value-weighted attention (Kobayashi et al. 2020,
Section 3) needs those inputs to size each value vector. A layer fills one :class:`LayerRecord`
during its forward pass; the model regroups the records by attention kind. The records hold
references to tensors of the forward pass, never to the module, so shared models stay untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class AttentionRecord:
    """One attention call: weights (B, H, Tq, Tk) after softmax, query input (B, Tq, D) and
    key/value input (B, Tk, D), i.e. the (normalised) residual stream the projections read."""

    weights: torch.Tensor | None = None
    query_input: torch.Tensor | None = None
    key_input: torch.Tensor | None = None

    def capture(self, weights: torch.Tensor | None, query_input: torch.Tensor, key_input: torch.Tensor) -> None:
        self.weights, self.query_input, self.key_input = weights, query_input, key_input

    def maps(self) -> torch.Tensor:
        """The weights; an error, not ``None``, when the layer ran without ``need_weights``."""
        if self.weights is None:
            raise RuntimeError("this attention ran without need_weights=True, so it recorded no weights")
        return self.weights

    def inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(query input, key/value input), as :func:`explorer.analysis.stepwise` and value norms take them."""
        if self.query_input is None or self.key_input is None:
            raise RuntimeError("this attention recorded no inputs")
        return self.query_input, self.key_input


@dataclass
class LayerRecord:
    """One layer's attention: ``self_attn`` always, ``cross_attn`` in a decoder layer."""

    self_attn: AttentionRecord = field(default_factory=AttentionRecord)
    cross_attn: AttentionRecord = field(default_factory=AttentionRecord)
