"""Position embeddings at any grid size: 2-D sin-cos embeddings and bicubic resizing of a stored embedding.

The sin-cos layout is MAE's, which ViG's relative-position term is built from: for ``dim`` channels, the first half
encodes the column and the second half the row, each as ``[sin(p * w), cos(p * w)]`` with the ``dim // 4``
frequencies ``w_i = 10000 ** (-i / (dim // 4))``.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F


def sincos_frequencies(dim: int, dtype: torch.dtype = torch.float64,
                       device: Optional[torch.device] = None) -> torch.Tensor:
    """The ``dim // 4`` frequencies of a 2-D sin-cos embedding with ``dim`` channels: ``(dim // 4,)``."""
    if dim % 4:
        raise ValueError(f'a 2-D sin-cos embedding needs a channel count divisible by 4, got {dim}')
    n = dim // 4
    return 1. / 10000**(torch.arange(n, dtype=dtype, device=device) / n)


def sincos_embed_2d(dim: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """2-D sin-cos embedding of the points ``(rows[i], cols[i])``: ``(len(rows), dim)``, in the dtype of ``rows``.

    Coordinates may be fractional (e.g. the centre of a pooling window).
    """
    omega = sincos_frequencies(dim, rows.dtype, rows.device)
    col, row = cols[:, None] * omega, rows[:, None] * omega  # P, dim/4
    return torch.cat([col.sin(), col.cos(), row.sin(), row.cos()], dim=1)


def sincos_grid_embed_2d(dim: int, size: Sequence[int], dtype: torch.dtype = torch.float64,
                         device: Optional[torch.device] = None) -> torch.Tensor:
    """Sin-cos embedding of every node of an ``(H, W)`` grid in row-major order: ``(H * W, dim)``."""
    h, w = size
    rows = torch.arange(h, dtype=dtype, device=device).repeat_interleave(w)
    cols = torch.arange(w, dtype=dtype, device=device).repeat(h)
    return sincos_embed_2d(dim, rows, cols)


def resize_pos_embed(pos_embed: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Resize a stored ``(1, C, h, w)`` embedding to ``size`` (bicubic); returned as is when the size matches."""
    if tuple(pos_embed.shape[-2:]) == tuple(size):
        return pos_embed
    return F.interpolate(pos_embed, size=tuple(size), mode='bicubic', align_corners=False)


__all__ = ['sincos_frequencies', 'sincos_embed_2d', 'sincos_grid_embed_2d', 'resize_pos_embed']
