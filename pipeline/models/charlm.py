"""Character-level language model (the lecture's char-RNN): embedded characters in, a softmax
over the next character out, at every step.

    x_t -> embedding -> L recurrent layers (h_t carries the past) -> linear -> logits over the vocabulary

The recurrent state is an explicit input and output of ``forward``, so a caller can carry it
across truncated-BPTT windows (training), across a long text (evaluation) or from one
generated character to the next (sampling).
"""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.cells import Recurrent

State = Tensor | tuple[Tensor, Tensor]  # h, or (h, c) for the LSTM; each (num_layers, B, H)


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind the state (truncated BPTT: gradients stop at the window edge)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class CharLM(nn.Module):
    """Multi-layer character language model.

    Args:
        vocab_size: number of characters, ``<unk>`` included.
        embedding_dim, hidden_size, num_layers: sizes.
        dropout: on the embeddings, between recurrent layers and before the output layer.
        cell, backend, nonlinearity: see ``pipeline.cells.Recurrent``.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.1,
        cell: str = "lstm",
        backend: str = "fused",
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = Recurrent(cell, embedding_dim, hidden_size, num_layers, False, dropout if num_layers > 1 else 0.0, nonlinearity, backend)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids: (B, T) character ids; state: the previous call's state or None (zeros).
        Returns logits (B, T, V) for the character after each position, and the new state."""
        out, state = self.rnn(self.dropout(self.embedding(ids)), hx=state)
        return self.head(self.dropout(out)), state
