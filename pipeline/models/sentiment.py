"""Many-to-one sentiment classifier: embedding -> recurrent layers -> pooling -> linear.

The recurrent layers read the whole sentence; pooling turns the per-step outputs into one
vector (``last``: the final states of each direction; ``mean``/``max`` over the real
steps; ``meanmax``: both, concatenated), and a linear layer gives one logit per class.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.cells import Recurrent, check_choice

POOLINGS = ("last", "mean", "max", "meanmax")


class SentimentClassifier(nn.Module):
    """Text classifier over padded token ids.

    Args:
        vocab_size: rows of the embedding table (id 0 is padding).
        num_classes: output logits.
        embedding_dim, hidden_size, num_layers, bidirectional, dropout: sizes of the network;
            dropout is applied to the embeddings, between layers and before the classifier.
        cell, backend, nonlinearity: see ``pipeline.cells.Recurrent``.
        pooling: one of ``last``, ``mean``, ``max``, ``meanmax``.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.5,
        cell: str = "lstm",
        backend: str = "fused",
        nonlinearity: str = "tanh",
        pooling: str = "meanmax",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        check_choice("pooling", pooling, POOLINGS)
        self.pooling, self.pad_id = pooling, pad_id
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Recurrent(cell, embedding_dim, hidden_size, num_layers, bidirectional, dropout if num_layers > 1 else 0.0, nonlinearity, backend)
        features = self.encoder.output_size * (2 if pooling == "meanmax" else 1)
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, input_ids: Tensor, lengths: Tensor) -> Tensor:
        """input_ids: (B, T) padded with pad_id; lengths: (B,) >= 1. Returns logits (B, C)."""
        x = self.dropout(self.embedding(input_ids))  # (B, T, E)
        out, state = self.encoder(x, lengths)  # (B, T, D*H)
        mask = (torch.arange(input_ids.size(1), device=input_ids.device)[None, :] < lengths.to(input_ids.device)[:, None]).unsqueeze(-1)
        pooled = []
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            last_layer = h_n[-self.encoder.num_directions :]  # (D, B, H)
            pooled.append(last_layer.transpose(0, 1).reshape(input_ids.size(0), -1))
        if self.pooling in ("mean", "meanmax"):
            pooled.append((out * mask).sum(1) / lengths.to(out.dtype).clamp(min=1).unsqueeze(-1).to(out.device))
        if self.pooling in ("max", "meanmax"):
            pooled.append(out.masked_fill(~mask, float("-inf")).max(dim=1).values)
        return self.classifier(self.dropout(torch.cat(pooled, dim=-1)))
