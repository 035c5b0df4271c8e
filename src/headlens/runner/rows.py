"""One layer's attention rows, made a block of query rows at a time: full rows without the T x T map.

Metrics and collectors that read whole attention rows (the word entropies of ``surface_rows``,
the dependency argmax of ``syntax``, the ``cluster`` JS distances, the stored and the probe's
maps, the compared maps of ``compare-models``) read them from a :class:`Rows`:

- :class:`LayerRows` (the fused path) holds the layer's q and k [B, H, T, d] and the key bias
  and computes any rows on request, ``softmax(s q_i k^T + bias)`` in float32 exactly as the eager
  implementation does: a block of n query rows costs O(B H n T) memory, never O(B H T T);
- :class:`MapRows` (the eager path) slices the eager implementation's map.

Both give the same reads: :meth:`block` (rows ``start:stop`` of every sentence), :meth:`gather`
(per-sentence lists of query rows), :meth:`sentence` (rows of one sentence) and :meth:`pick`
(rows of (sentence, query) pairs), so a consumer is written once for both paths. The default
block height is ``metrics.view.ROW_BLOCK``; word rows come a block at a time from
``metrics.view.level_blocks``.
"""

from __future__ import annotations

import torch

from ..metrics import view


class Rows:
    """The interface (see the module doc); ``shape`` is (B, H, T, T) of the map it stands for."""

    shape: tuple[int, int, int, int]
    dtype: torch.dtype

    def block(self, start: int, stop: int) -> torch.Tensor:
        """[B, H, stop - start, T]: query rows ``start:stop`` of every sentence."""
        raise NotImplementedError

    def gather(self, queries: torch.Tensor) -> torch.Tensor:
        """[B, H, n, T]: query rows ``queries[b]`` (long [B, n]) of each sentence b."""
        raise NotImplementedError

    def sentence(self, b: int, queries: torch.Tensor | slice) -> torch.Tensor:
        """[H, n, T]: query rows ``queries`` (long [n], or a slice) of sentence b."""
        raise NotImplementedError

    def pick(self, b: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """[r, H, T]: query row i[p] of sentence b[p] for every p (long [r] each), a sentence at a time."""
        out = None
        for s in torch.unique(b).tolist():
            at = torch.nonzero(b == s, as_tuple=True)[0]
            part = self.sentence(s, i[at]).transpose(0, 1)  # [n, H, T]
            if out is None:
                out = part.new_empty((len(b), *part.shape[1:]))
            out[at] = part
        return out

    def full(self) -> torch.Tensor:
        """[B, H, T, T]: the whole map (only for consumers that declare no blocked reading)."""
        return self.block(0, self.shape[2])

    def blocks(self, size: int | None = None):
        """(start, stop, rows [B, H, stop - start, T]) over all query rows, ``size`` rows at a time."""
        t = self.shape[2]
        size = size or view.ROW_BLOCK
        for start in range(0, t, size):
            stop = min(t, start + size)
            yield start, stop, self.block(start, stop)

    def sentence_map(self, b: int, n: int, size: int | None = None) -> torch.Tensor:
        """float32 [H, n, n] on the CPU: the map of sentence b's n tokens, ``size`` rows at a time (default:
        all n at once; the map is the output anyway)."""
        size = size or n
        out = torch.empty((self.shape[1], n, n), dtype=torch.float32)
        for start in range(0, n, size):
            stop = min(n, start + size)
            out[:, start:stop] = self.sentence(b, slice(start, stop))[..., :n]
        return out


class MapRows(Rows):
    """The rows of a materialised map ``attn`` [B, H, T, T] (the eager path)."""

    def __init__(self, attn: torch.Tensor):
        self.attn, self.shape, self.dtype = attn, tuple(attn.shape), attn.dtype

    def block(self, start, stop):
        return self.attn[:, :, start:stop]

    def gather(self, queries):
        b, h, _, t = self.attn.shape
        return self.attn.gather(2, queries[:, None, :, None].expand(b, h, -1, t))

    def sentence(self, b, queries):
        return self.attn[b][:, queries]

    def pick(self, b, i):
        return self.attn[b, :, i, :]

    def full(self):
        return self.attn


class LayerRows(Rows):
    """Rows computed on request from q, k [B, H, T, d] and the key bias [B, T] (0 or -inf), as
    ``softmax(s q k^T + bias, dim=-1, dtype=float32)`` cast to the model's dtype and then to
    ``dtype``: the eager implementation's formula, restricted to the asked rows."""

    def __init__(self, q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, scale: float, dtype: torch.dtype):
        self.q, self.k, self.bias, self.scale, self.dtype = q, k, bias, scale, dtype
        b, h, t, _ = q.shape
        self.shape = (b, h, t, t)

    def _softmax(self, scores: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        scores = scores.mul_(self.scale).add_(bias)
        return torch.softmax(scores, dim=-1, dtype=torch.float32).to(self.q.dtype).to(self.dtype)

    def block(self, start, stop):
        scores = torch.matmul(self.q[:, :, start:stop], self.k.transpose(-1, -2))
        return self._softmax(scores, self.bias[:, None, None, :])

    def gather(self, queries):
        b, h, _, d = self.q.shape
        q = self.q.gather(2, queries[:, None, :, None].expand(b, h, -1, d))
        return self._softmax(torch.matmul(q, self.k.transpose(-1, -2)), self.bias[:, None, None, :])

    def sentence(self, b, queries):
        scores = torch.matmul(self.q[b][:, queries], self.k[b].transpose(-1, -2))
        return self._softmax(scores, self.bias[b][None, None, :])

    def sentence_logits(self, b: int, n: int) -> torch.Tensor:
        """float32 [H, n, n] on the CPU: the scaled dot products ``s q_i . k_j`` of sentence b's n tokens,
        the logits the softmax turns into the map (half-precision q and k are widened to float32 first)."""
        wide = torch.promote_types(self.q.dtype, torch.float32)
        q, k = self.q[b, :, :n].to(wide), self.k[b, :, :n].to(wide)
        return torch.matmul(q, k.transpose(-1, -2)).mul_(self.scale).float().cpu()
