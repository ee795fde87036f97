"""Sequence to sequence with attention: a bidirectional recurrent encoder, a recurrent decoder
that looks back at every encoder output through attention at every step.

    source ids -> embedding -> bidirectional RNN -> outputs k_1..k_S (2H each)
    decoder step t:  query q = s_{t-1} (the decoder's top-layer state)
                     weights a_t = softmax over real source positions of score(q, k_j)
                     context c_t = sum_j a_tj k_j
                     s_t = RNN([embed(y_{t-1}); c_t], s_{t-1})
                     logits = W_o tanh(W_c [s_t; c_t])

Scores (``attention``): ``bahdanau`` (additive, Bahdanau et al. 2015):
v^T tanh(W_q q + W_k k); ``luong`` (multiplicative, "general", Luong et al. 2015): q^T W k;
``none``: no attention, the context is the encoder's final summary at every step (the
fixed-vector encoder-decoder of Cho et al. / Sutskever et al., the baseline attention
fixes). Padding positions get weight exactly 0. The decoder starts from the encoder's final
forward and backward states through a tanh bridge.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pipeline.cells import Recurrent, check_choice

ATTENTIONS = ("bahdanau", "luong", "none")


class Attention(nn.Module):
    """Masked attention of one query per row over a sequence of keys.

    Args:
        kind: ``bahdanau`` (additive) or ``luong`` (multiplicative, general).
        query_size, key_size: feature sizes of the query and of each key.
        attention_size: width of the additive score's hidden layer.
    """

    def __init__(self, kind: str, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        check_choice("attention", kind, ATTENTIONS[:2])
        self.kind = kind
        if kind == "bahdanau":
            self.query = nn.Linear(query_size, attention_size, bias=False)
            self.key = nn.Linear(key_size, attention_size)
            self.score = nn.Linear(attention_size, 1, bias=False)
        else:
            self.general = nn.Linear(query_size, key_size, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor | None:
        """The query-independent part of the scores, computed once per source sentence."""
        return self.key(keys) if self.kind == "bahdanau" else None

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor, projected: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query (B, Q), keys (B, S, K), mask (B, S) True at real positions.
        Returns context (B, K) and weights (B, S) (rows sum to 1, zero at padding)."""
        if self.kind == "bahdanau":
            projected = self.key(keys) if projected is None else projected
            scores = self.score(torch.tanh(self.query(query).unsqueeze(1) + projected)).squeeze(-1)
        else:
            scores = torch.bmm(keys, self.general(query).unsqueeze(-1)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1), weights


@dataclass
class Memory:
    """What the decoder reads at every step: the encoder outputs and what is derived from them."""

    keys: Tensor  # (B, S, 2H)
    mask: Tensor  # (B, S) bool
    projected: Tensor | None  # (B, S, A) for additive attention
    summary: Tensor  # (B, 2H): final forward and backward states of the top layer

    def select(self, index: Tensor) -> Memory:
        """Rows ``index`` (beam search keeps several hypotheses of one sentence)."""
        pick = lambda t: None if t is None else t.index_select(0, index)  # noqa: E731
        return Memory(pick(self.keys), pick(self.mask), pick(self.projected), pick(self.summary))


def select_state(state: Tensor | tuple[Tensor, Tensor], index: Tensor) -> Tensor | tuple[Tensor, Tensor]:
    """Batch rows ``index`` of a recurrent state (L, B, H) or an LSTM's pair of them."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


class Seq2Seq(nn.Module):
    """Encoder-decoder translation model over padded token ids (id 0 is padding).

    Args:
        source_vocab, target_vocab: vocabulary sizes.
        embedding_dim: both embeddings.
        hidden_size: encoder units per direction; the decoder has 2 x hidden_size.
        num_layers, dropout, cell, backend, nonlinearity: as in ``pipeline.cells.Recurrent``.
        attention: ``bahdanau``, ``luong`` or ``none``.
    """

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.1,
        cell: str = "gru",
        backend: str = "fused",
        nonlinearity: str = "tanh",
        attention: str = "bahdanau",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        check_choice("attention", attention, ATTENTIONS)
        self.cell, self.num_layers, self.pad_id = cell, num_layers, pad_id
        decoder_size, key_size = 2 * hidden_size, 2 * hidden_size
        inner_dropout = dropout if num_layers > 1 else 0.0
        self.source_embedding = nn.Embedding(source_vocab, embedding_dim, padding_idx=pad_id)
        self.target_embedding = nn.Embedding(target_vocab, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Recurrent(cell, embedding_dim, hidden_size, num_layers, True, inner_dropout, nonlinearity, backend)
        self.bridge = nn.Linear(key_size, decoder_size)
        self.decoder = Recurrent(cell, embedding_dim + key_size, decoder_size, num_layers, False, inner_dropout, nonlinearity, backend)
        self.attention = Attention(attention, decoder_size, key_size, decoder_size) if attention != "none" else None
        self.combine = nn.Linear(decoder_size + key_size, decoder_size)
        self.head = nn.Linear(decoder_size, target_vocab)

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, Tensor | tuple[Tensor, Tensor]]:
        """source (B, S) padded ids, lengths (B,). Returns the decoder's memory and initial state."""
        keys, state = self.encoder(self.dropout(self.source_embedding(source)), lengths)
        h = state[0] if isinstance(state, tuple) else state  # (L*2, B, H)
        layers = h.view(self.num_layers, 2, h.size(1), h.size(2))
        final = torch.cat([layers[:, 0], layers[:, 1]], dim=-1)  # (L, B, 2H): forward and backward final states
        h0 = torch.tanh(self.bridge(final)).contiguous()
        initial = (h0, torch.zeros_like(h0)) if isinstance(state, tuple) else h0
        mask = source != self.pad_id
        projected = self.attention.project_keys(keys) if self.attention is not None else None
        return Memory(keys, mask, projected, final[-1]), initial

    def step(self, previous: Tensor, state, memory: Memory) -> tuple[Tensor, object, Tensor | None]:
        """One decoder step: previous (B,) token ids. Returns logits (B, V), the new state and
        the attention weights (B, S) (None without attention)."""
        top = (state[0] if isinstance(state, tuple) else state)[-1]  # (B, D): s_{t-1}
        if self.attention is not None:
            context, weights = self.attention(top, memory.keys, memory.mask, memory.projected)
        else:
            context, weights = memory.summary, None
        inputs = torch.cat([self.dropout(self.target_embedding(previous)), context], dim=-1).unsqueeze(1)
        out, state = self.decoder(inputs, hx=state)
        features = torch.tanh(self.combine(torch.cat([out[:, 0], context], dim=-1)))
        return self.head(self.dropout(features)), state, weights

    def forward(
        self, source: Tensor, lengths: Tensor, target_in: Tensor, teacher_forcing: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced decoding of target_in (B, T) (it starts with [BOS]): logits (B, T, V)
        and attention weights (B, T, S). With teacher_forcing < 1 each step feeds, with that
        chance, the true previous token, else the model's own most likely one."""
        memory, state = self.encode(source, lengths)
        logits, weights = [], []
        previous = target_in[:, 0]
        for t in range(target_in.size(1)):
            step_logits, state, step_weights = self.step(previous, state, memory)
            logits.append(step_logits)
            if step_weights is not None:
                weights.append(step_weights)
            if t + 1 < target_in.size(1):
                previous = target_in[:, t + 1]
                if teacher_forcing < 1.0:
                    own = step_logits.argmax(-1)
                    use_true = torch.rand(previous.shape, generator=generator, device=previous.device) < teacher_forcing
                    previous = torch.where(use_true, previous, own)
        return torch.stack(logits, dim=1), (torch.stack(weights, dim=1) if weights else None)

    @torch.no_grad()
    def greedy(self, source: Tensor, lengths: Tensor, bos_id: int, eos_id: int, max_length: int) -> list[list[int]]:
        """Greedy outputs (ids without [BOS]/[EOS]) for a padded batch of sources."""
        from pipeline.decoding import greedy

        memory, state = self.encode(source, lengths)
        return greedy(lambda previous, state: self.step(previous, state, memory)[:2], state, bos_id, eos_id, source.size(0), max_length)
