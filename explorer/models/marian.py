"""Mozilla's tiny Marian translator, rebuilt from the explorer's own blocks.

The Firefox Translations "tiny" students (Bogoychev et al. 2020; Marian config ``type: transformer``,
``transformer-decoder-autoreg: rnn``, ``dec-cell: ssru``) are the paper's Transformer with three
differences worth teaching:

* **post-LN everywhere** (``transformer-postprocess: dan`` = dropout, add, LayerNorm), as in
  Vaswani et al. 2017, Section 3.1; the encoder is our ``EncoderLayer`` with ``norm_first=False``.
* **positions**: embeddings times sqrt(d_model) (Section 3.4) plus sinusoids laid out as Marian
  writes them: all sines first, then all cosines (``[sin | cos]``), with timescales
  10000^(i / (d/2 - 1)) instead of the paper's interleaved 10000^(2i/d) (Marian's
  ``inits::sinusoidalPositionEmbeddings``). The decoder's first input is a zero vector, not a token.
* **no decoder self-attention**: each decoder layer starts with an SSRU, the "Simpler Simple
  Recurrent Unit" of Kim et al. 2019, "From Research to Production and Back: Ludicrously Fast
  Neural Machine Translation" (WNGT, Section 3.2):

      f_t = sigmoid(W_f x_t + b_f)
      c_t = f_t * c_{t-1} + (1 - f_t) * W x_t
      o_t = ReLU(c_t)

  The state c_t is one vector per layer, so a generated token costs one position whatever the
  length so far (masked self-attention, ``blocks.DecoderLayer``, must look back at every earlier
  position). The SSRU layer below sits beside that layer: same residual + LayerNorm wrapping,
  same cross-attention and feed-forward, only the first sub-layer differs.

Decoding step by step keeps a ``DecoderState``: the SSRU states and every layer's cross-attention
keys and values, computed once from the encoder output. Attention maps come back on request as
(batch, heads, queries, keys) per layer under "encoder_self" and "decoder_cross".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.attention import MultiHeadAttention, build_keep_mask, softmax_with_mask
from explorer.models.blocks import EncoderLayer, FeedForward, LayerSpec
from explorer.models.records import LayerRecord

if TYPE_CHECKING:
    from explorer.readers.marian import Shortlist

AttentionMaps = dict[str, list[torch.Tensor]]


@dataclass(frozen=True)
class MarianConfig:
    """Shape of a Marian transformer with an SSRU decoder (read from the model's embedded YAML)."""

    vocab_size: int = 32000
    d_model: int = 256
    n_heads: int = 8
    d_ff: int = 1536
    n_encoder_layers: int = 6
    n_decoder_layers: int = 2
    layer_norm_eps: float = 1e-9  # Marian's layerNorm default
    max_len: int = 1024  # positions precomputed; the input cap sits far below
    tied_embeddings: bool = True  # tied-embeddings-all: source, target and output share Wemb


def config_from_yaml(yaml_config: dict[str, Any], vocab_size: int) -> MarianConfig:
    """Check the options our rebuild implements and read the sizes."""
    expected = {
        "type": "transformer",
        "transformer-decoder-autoreg": "rnn",
        "dec-cell": "ssru",
        "transformer-postprocess": "dan",
        "transformer-preprocess": "",
        "transformer-ffn-activation": "relu",
        "transformer-train-position-embeddings": False,
    }
    for key, value in expected.items():
        if yaml_config.get(key, value) != value:
            raise ValueError(f"unsupported Marian option {key}={yaml_config.get(key)!r} (this rebuild expects {value!r})")
    if int(yaml_config.get("transformer-ffn-depth", 2)) != 2:
        raise ValueError("unsupported Marian option transformer-ffn-depth (expects 2)")
    return MarianConfig(
        vocab_size=vocab_size,
        d_model=int(yaml_config.get("dim-emb", 256)),
        n_heads=int(yaml_config.get("transformer-heads", 8)),
        d_ff=int(yaml_config.get("transformer-dim-ffn", 1536)),
        n_encoder_layers=int(yaml_config.get("enc-depth", 6)),
        n_decoder_layers=int(yaml_config.get("dec-depth", 2)),
        tied_embeddings=bool(yaml_config.get("tied-embeddings-all", True)),
    )


def marian_sinusoids(length: int, d_model: int, start: int = 0) -> torch.Tensor:
    """Marian's fixed positions, (length, d_model): columns [0, d/2) sines, [d/2, d) cosines.

    Timescale of pair i is 10000^(i / (d/2 - 1)), so the slowest sinusoid has wavelength exactly
    2*pi*10000 (the paper's slowest is 2*pi*10000^((d-2)/d)). Computed in float64 and cast.
    """
    half = d_model // 2
    increment = math.log(10000.0) / (half - 1)
    inv = torch.exp(torch.arange(half, dtype=torch.float64) * -increment)  # (d/2,)
    angles = torch.arange(start, start + length, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cat((torch.sin(angles), torch.cos(angles)), dim=-1).to(torch.float32)


class SSRU(nn.Module):
    """Kim et al. 2019's SSRU (Section 3.2): a forget-gated running average of W x, then ReLU.

    No recurrent matrix: the gate and the candidate read only the current input, so the whole
    cell is two input projections plus an elementwise recurrence.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.candidate = nn.Linear(d_model, d_model, bias=False)  # Marian's W
        self.forget = nn.Linear(d_model, d_model, bias=True)  # Marian's Wf, bf

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, D), ``state`` c_{-1} (B, D) or None (zeros) -> outputs (B, T, D), last state (B, D)."""
        f = torch.sigmoid(self.forget(x))  # (B, T, D)
        candidate = (1.0 - f) * self.candidate(x)
        c = torch.zeros_like(x[:, 0]) if state is None else state
        outputs = []
        for t in range(x.shape[1]):
            c = f[:, t] * c + candidate[:, t]
            outputs.append(c)
        return F.relu(torch.stack(outputs, dim=1)), c


@dataclass
class LayerCache:
    """One decoder layer's step state: SSRU state and cross-attention keys/values (B, H, S, hs)."""

    ssru: torch.Tensor | None
    cross_k: torch.Tensor
    cross_v: torch.Tensor


@dataclass
class DecoderState:
    """Everything step-by-step decoding needs besides the next input token."""

    layers: list[LayerCache]
    memory_key_padding_mask: torch.Tensor | None
    position: int = 0


class SSRUDecoderLayer(nn.Module):
    """SSRU, cross-attention, feed-forward; each post-LN: LayerNorm(x + sublayer(x)) (Section 3.1)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, layer_norm_eps: float) -> None:
        super().__init__()
        self.ssru = SSRU(d_model)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.feed_forward = FeedForward(d_model, d_ff, "relu")
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)

    def cross_keys_values(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project the encoder output once: K, V (B, H, S, hs), reused at every decoding step."""
        attn = self.cross_attn
        batch, length, _ = memory.shape
        k = attn.k_proj(memory).view(batch, length, attn.n_heads, attn.d_head).transpose(1, 2)
        v = attn.v_proj(memory).view(batch, length, attn.n_heads, attn.d_head).transpose(1, 2)
        return k, v

    def _cached_cross(self, h: torch.Tensor, cache: LayerCache, mask: torch.Tensor | None, need_weights: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cross-attention of queries ``h`` (B, Tq, D) against cached K/V; same maths as MultiHeadAttention."""
        attn = self.cross_attn
        batch, n_queries, _ = h.shape
        q = attn.q_proj(h).view(batch, n_queries, attn.n_heads, attn.d_head).transpose(1, 2)  # (B, H, Tq, hs)
        keep = build_keep_mask(batch, n_queries, cache.cross_k.shape[2], mask, False, h.device)
        weights: torch.Tensor | None = None
        if need_weights:
            scores = (q @ cache.cross_k.transpose(-2, -1)) / math.sqrt(attn.d_head)  # (B, H, Tq, S)
            weights = softmax_with_mask(scores, keep)
            context = weights @ cache.cross_v
        else:
            context = F.scaled_dot_product_attention(q, cache.cross_k, cache.cross_v, attn_mask=keep)
        context = context.transpose(1, 2).reshape(batch, n_queries, attn.n_heads * attn.d_head)
        return attn.out_proj(context), weights

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None,
        memory_key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: LayerCache | None = None,
        record: LayerRecord | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``x`` (B, T, D) -> (output (B, T, D), cross weights (B, H, T, S) or None, last SSRU state).

        With ``cache`` the SSRU continues from the cached state and cross-attention uses the cached
        K/V (``memory`` is then unused); without it everything is computed from ``memory``.
        ``record``, when given, receives the cross-attention's query input (its weights come back anyway).
        """
        ssru_out, ssru_state = self.ssru(x, None if cache is None else cache.ssru)
        x = self.norm1(x + ssru_out)
        if record is not None:
            record.cross_attn.query_input = x
        if cache is None:
            attended, weights = self.cross_attn(x, memory, key_padding_mask=memory_key_padding_mask, need_weights=need_weights)
        else:
            attended, weights = self._cached_cross(x, cache, memory_key_padding_mask, need_weights)
        x = self.norm2(x + attended)
        x = self.norm3(x + self.feed_forward(x))
        return x, weights, ssru_state


@dataclass
class MarianOutput:
    """Logits (B, T, V) and, when asked, attention maps by kind, each a list over layers of (B, H, Tq, Tk)."""

    logits: torch.Tensor
    attention: AttentionMaps | None = None


@dataclass
class GreedyResult:
    """A greedy translation: ids (without ``</s>``), per-step top-k and, if asked, attention maps."""

    ids: list[int]
    finished: bool
    top_k: list[list[tuple[int, float]]] = field(default_factory=list)  # per step: (id, probability)
    attention: dict[str, list[np.ndarray]] | None = None  # encoder_self (1,H,S,S), decoder_cross (1,H,T,S)
    # per kind and layer: (query input (Tq, D), key/value input (Tk, D)) as the attention module saw them
    attention_inputs: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None


class MarianModel(nn.Module):
    """Marian transformer encoder + SSRU decoder; ``forward(src, tgt)`` gives next-token logits."""

    pe: torch.Tensor  # (max_len, d_model) fixed positions, a non-persistent buffer

    def __init__(self, config: MarianConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.scale = math.sqrt(config.d_model)
        self.register_buffer("pe", marian_sinusoids(config.max_len, config.d_model), persistent=False)
        self.encoder_layers = nn.ModuleList(
            [
                EncoderLayer(LayerSpec(config.d_model, config.n_heads, config.d_ff, layer_norm_eps=config.layer_norm_eps))
                for _ in range(config.n_encoder_layers)
            ]
        )
        self.decoder_layers = nn.ModuleList(
            [SSRUDecoderLayer(config.d_model, config.n_heads, config.d_ff, config.layer_norm_eps) for _ in range(config.n_decoder_layers)]
        )
        self.output = nn.Linear(config.d_model, config.vocab_size, bias=True)
        self.shortlist: Shortlist | None = None  # the engine's output shortlist, if shipped
        if config.tied_embeddings:
            self.output.weight = self.embed.weight  # one matrix for source, target and output (tied-embeddings-all)

    def _encoder(self) -> list[EncoderLayer]:
        return [cast(EncoderLayer, layer) for layer in self.encoder_layers]

    def _decoder(self) -> list[SSRUDecoderLayer]:
        return [cast(SSRUDecoderLayer, layer) for layer in self.decoder_layers]

    # ----- embeddings -------------------------------------------------------------------------
    def _positions(self, start: int, length: int) -> torch.Tensor:
        if start + length > self.config.max_len:
            raise ValueError(f"sequence of {start + length} positions is longer than max_len {self.config.max_len}")
        return self.pe[start : start + length]

    def embed_source(self, src: torch.Tensor) -> torch.Tensor:
        """(B, S) ids -> (B, S, D): embedding * sqrt(d) + positions 0..S-1."""
        return self.embed(src) * self.scale + self._positions(0, src.shape[1])

    def embed_target(self, prev: torch.Tensor | None, start: int, batch: int) -> torch.Tensor:
        """Decoder inputs from ``start``: position 0 is a zero vector (Marian's start), later ones the previous token."""
        if prev is None:
            x = torch.zeros(batch, 1, self.config.d_model, device=self.pe.device)
        else:
            x = self.embed(prev) * self.scale
        return x + self._positions(start, x.shape[1])

    # ----- encoder / decoder ------------------------------------------------------------------
    def encode(
        self,
        src: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
        inputs: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Encoder output (B, S, D) and, when asked, self-attention maps per layer (B, H, S, S).

        ``inputs``, when given with ``return_attention``, receives each layer's attention input (B, S, D).
        """
        x = self.embed_source(src)
        maps: list[torch.Tensor] | None = [] if return_attention else None
        for layer in self.encoder_layers:
            record = LayerRecord() if return_attention else None
            x = layer(x, src_key_padding_mask, need_weights=return_attention, record=record)
            if maps is not None and record is not None:
                maps.append(record.self_attn.maps())
                if inputs is not None:
                    inputs.append(record.self_attn.inputs()[0])
        return x, maps

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """All positions at once, no cache: ``tgt`` (B, T) previous tokens -> logits (B, T+1, V).

        Row t predicts target token t from the start vector and ``tgt[:, :t]``.
        """
        batch = memory.shape[0]
        start = self.embed_target(None, 0, batch)
        rest = self.embed(tgt) * self.scale + self._positions(1, tgt.shape[1])
        x = torch.cat((start, rest), dim=1)
        maps: list[torch.Tensor] | None = [] if return_attention else None
        for layer in self.decoder_layers:
            x, weights, _ = layer(x, memory, src_key_padding_mask, need_weights=return_attention)
            if maps is not None and weights is not None:
                maps.append(weights)
        return self.output(x), maps

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> MarianOutput:
        """Teacher-forced logits (B, T+1, V) for target prefix ``tgt`` (B, T) (see ``decode``)."""
        memory, encoder_maps = self.encode(src, src_key_padding_mask, return_attention)
        logits, cross_maps = self.decode(tgt, memory, src_key_padding_mask, return_attention)
        if not return_attention:
            return MarianOutput(logits)
        return MarianOutput(logits, {"encoder_self": encoder_maps or [], "decoder_cross": cross_maps or []})

    # ----- step-by-step decoding --------------------------------------------------------------
    def start_state(self, memory: torch.Tensor, src_key_padding_mask: torch.Tensor | None = None) -> DecoderState:
        """Cross-attention K/V of every decoder layer, computed once; SSRU states empty."""
        layers = []
        for layer in self._decoder():
            k, v = layer.cross_keys_values(memory)
            layers.append(LayerCache(None, k, v))
        return DecoderState(layers, src_key_padding_mask, 0)

    def step(
        self,
        prev: torch.Tensor | None,
        state: DecoderState,
        return_attention: bool = False,
        output: tuple[torch.Tensor, torch.Tensor] | None = None,
        inputs: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, DecoderState, list[torch.Tensor] | None]:
        """One target position: ``prev`` (B,) last token (None at the start) -> logits (B, V), new state.

        The returned state is new; the given one is not modified, so a caller can branch from it.
        Cross-attention maps, if asked, are (B, H, 1, S) per layer. ``output`` = (weight rows,
        bias) of a shortlist replaces the full output layer (logits then index the shortlist).
        ``inputs``, when given, receives each layer's cross-attention query input (B, 1, D).
        """
        batch = state.layers[0].cross_k.shape[0]
        x = self.embed_target(None if prev is None else prev[:, None], state.position, batch)
        new_layers = []
        maps: list[torch.Tensor] | None = [] if return_attention else None
        for layer, cache in zip(self.decoder_layers, state.layers, strict=True):
            record = LayerRecord() if inputs is not None else None
            x, weights, ssru_state = layer(x, None, state.memory_key_padding_mask, return_attention, cache, record)
            if inputs is not None and record is not None and record.cross_attn.query_input is not None:
                inputs.append(record.cross_attn.query_input)
            new_layers.append(replace(cache, ssru=ssru_state))
            if maps is not None and weights is not None:
                maps.append(weights)
        logits = self.output(x[:, 0]) if output is None else F.linear(x[:, 0], *output)
        return logits, DecoderState(new_layers, state.memory_key_padding_mask, state.position + 1), maps

    @torch.inference_mode()
    def greedy(
        self,
        src_ids: list[int],
        max_new_tokens: int | None = None,
        top_k: int = 0,
        return_attention: bool = False,
        use_shortlist: bool = False,
    ) -> GreedyResult:
        """Greedy decoding of one sentence with the step cache (Marian's beam-size 1).

        ``max_new_tokens`` defaults to Marian's max-length-factor 2.5 times the source length.
        ``use_shortlist`` scores only the engine's lexical shortlist for this sentence (as the
        native engine does: faster, and probabilities are then over the shortlist); by default
        every piece of the vocabulary is scored, so the top-k shows the model's full distribution.
        """
        device = self.pe.device
        src = torch.tensor([src_ids], dtype=torch.long, device=device)
        limit = max_new_tokens if max_new_tokens is not None else int(2.5 * len(src_ids))
        encoder_inputs: list[torch.Tensor] = []
        memory, encoder_maps = self.encode(src, return_attention=return_attention, inputs=encoder_inputs)
        state = self.start_state(memory)
        rows: torch.Tensor | None = None
        output: tuple[torch.Tensor, torch.Tensor] | None = None
        if use_shortlist and self.shortlist is not None:
            candidates = self.shortlist.candidates(src_ids, self.config.vocab_size)
            rows = torch.from_numpy(candidates).to(device)
            output = (self.output.weight.index_select(0, rows), self.output.bias.index_select(0, rows))
        ids: list[int] = []
        steps_top: list[list[tuple[int, float]]] = []
        cross_steps: list[list[torch.Tensor]] = []
        cross_inputs: list[list[torch.Tensor]] = []
        prev: torch.Tensor | None = None
        finished = False
        for _ in range(limit):
            step_inputs: list[torch.Tensor] | None = [] if return_attention else None
            logits, state, maps = self.step(prev, state, return_attention, output, step_inputs)
            if step_inputs is not None:
                cross_inputs.append(step_inputs)
            if top_k > 0:
                probs = torch.softmax(logits[0].float(), dim=-1)
                values, indices = probs.topk(min(top_k, probs.shape[0]))
                if rows is not None:
                    indices = rows[indices]
                steps_top.append([(int(i), float(p)) for i, p in zip(indices, values, strict=True)])
            if maps is not None:
                cross_steps.append(maps)
            best = int(logits[0].argmax())
            token = best if rows is None else int(rows[best])
            if token == 0:  # "</s>"
                finished = True
                break
            ids.append(token)
            prev = torch.tensor([token], device=device)
        attention = inputs = None
        if return_attention and encoder_maps is not None:
            n_dec = len(self.decoder_layers)
            cross = [torch.cat([step[i] for step in cross_steps], dim=2).cpu().numpy() for i in range(n_dec)]
            attention = {"encoder_self": [m.cpu().numpy() for m in encoder_maps], "decoder_cross": cross}
            mem = memory[0].cpu().numpy()
            inputs = {
                "encoder_self": [(h[0].cpu().numpy(), h[0].cpu().numpy()) for h in encoder_inputs],
                "decoder_cross": [(torch.cat([step[i][0] for step in cross_inputs], dim=0).cpu().numpy(), mem) for i in range(n_dec)],
            }
        return GreedyResult(ids, finished, steps_top, attention, inputs)

    # ----- weights ----------------------------------------------------------------------------
    @classmethod
    def from_items(cls, config: MarianConfig, items: dict[str, np.ndarray]) -> MarianModel:
        """Copy Marian's named tensors into a new model, checking every shape (nanoGPT's ``from_pretrained``)."""
        with torch.device("meta"):  # no random init: every tensor below is the file's own
            model = cls(config)
        model.pe = marian_sinusoids(config.max_len, config.d_model)
        used: set[str] = set()

        def put(module: nn.Module, attr: str, name: str) -> None:
            expected = getattr(module, attr).shape
            value = torch.from_numpy(np.ascontiguousarray(items[name]))
            if value.numel() != math.prod(expected):
                raise ValueError(f"{name} has {value.numel()} values, the model expects {tuple(expected)}")
            setattr(module, attr, nn.Parameter(value.reshape(expected), requires_grad=False))
            used.add(name)

        def linear(module: nn.Linear, weight: str, bias: str | None) -> None:
            put(module, "weight", weight)
            if bias is not None and module.bias is not None:
                put(module, "bias", bias)

        def norm(module: nn.Module | None, prefix: str) -> None:
            if not isinstance(module, nn.LayerNorm):
                raise ValueError(f"{prefix}: this layer has no LayerNorm to load")
            put(module, "weight", prefix + "_ln_scale")
            put(module, "bias", prefix + "_ln_bias")

        def attention(module: MultiHeadAttention, prefix: str) -> None:
            for proj, letter in ((module.q_proj, "q"), (module.k_proj, "k"), (module.v_proj, "v"), (module.out_proj, "o")):
                linear(proj, f"{prefix}_W{letter}", f"{prefix}_b{letter}")

        def ffn(module: FeedForward, prefix: str) -> None:
            linear(module.linear1, prefix + "_W1", prefix + "_b1")
            linear(module.linear2, prefix + "_W2", prefix + "_b2")

        put(model.embed, "weight", "Wemb")
        if config.tied_embeddings:
            model.output.weight = model.embed.weight
        else:
            raise ValueError("untied output layers are not in the shipped models (tied-embeddings-all: true)")
        put(model.output, "bias", "decoder_ff_logit_out_b")
        for i, layer in enumerate(model._encoder(), start=1):
            attention(layer.self_attn, f"encoder_l{i}_self")
            norm(layer.norm1, f"encoder_l{i}_self_Wo")
            ffn(layer.feed_forward, f"encoder_l{i}_ffn")
            norm(layer.norm2, f"encoder_l{i}_ffn_ffn")
        for i, dec in enumerate(model._decoder(), start=1):
            linear(dec.ssru.candidate, f"decoder_l{i}_rnn_W", None)
            linear(dec.ssru.forget, f"decoder_l{i}_rnn_Wf", f"decoder_l{i}_rnn_bf")
            norm(dec.norm1, f"decoder_l{i}_rnn_ffn")
            attention(dec.cross_attn, f"decoder_l{i}_context")
            norm(dec.norm2, f"decoder_l{i}_context_Wo")
            ffn(dec.feed_forward, f"decoder_l{i}_ffn")
            norm(dec.norm3, f"decoder_l{i}_ffn_ffn")
        unused = sorted(set(items) - used)
        if unused:
            raise ValueError(f"weights not used by this architecture: {unused[:5]}")
        left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise ValueError(f"the file has no values for {left[:5]}")
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        return model
