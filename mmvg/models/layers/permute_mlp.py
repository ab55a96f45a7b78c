"""Vision Permutator's weighted permute-MLP (Hou et al., "Vision Permutator: A Permutable MLP-Like Architecture for
Visual Recognition", arXiv:2106.12368) for any feature size.

The channels are split into ``segment_dim`` segments of ``S = C / segment_dim``. Along the height, the official layer
applies one ``Linear(H * S, H * S)`` to every (segment, column): the vector of ``S`` channels at every row. Its weight
is ``Linear(C, C)``, so it runs only where ``H * S = C``, i.e. ``H = W = segment_dim`` (32 or 16 at 224), and its
weights are tied to absolute rows and columns.

Here the same Linear mixes **windows of ``window_size`` positions** along each axis (``window_size = segment_dim``
for the official weights: the trained length). An axis of length ``N = n * L + r`` is split into ``n`` whole windows
and, when ``r > 0``, one last partial window; the partial window uses the top-left ``r * S`` block of the weight,
which is exactly the zero-padding of that window to ``L`` followed by cropping the output back (the padded positions
would only meet zero inputs and produce cropped outputs), without computing the padding. Hence:

- at ``N = L`` the layer is the official one (same weights, same reshapes, same result);
- with ``shift=True`` (alternate blocks of :class:`mmvg.models.VisionPermutator`) an axis longer than one window
  has its windows offset by ``L / 2``, so that information crosses window borders from block to block, as
  Swin's shifted windows; an axis of at most ``L`` positions is never shifted;
- every position mixes with the (at most) ``L`` positions of its window along each axis: the cost per position is
  ``C * L * S`` multiply-adds (``C**2`` for the official ``L * S = C``) whatever ``H`` and ``W``, so the layer's cost
  grows linearly with ``H * W`` (measured in ``tools/analysis/vip_benchmark.py``; tested with a FLOP counter).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer


def window_mix(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], window_size: int,
               segment_channels: int, axis: int, shift: int = 0) -> torch.Tensor:
    """Mix a channel-last map along its height or width within windows of ``window_size`` positions.

    Windows start at position ``-shift``: with ``shift > 0`` the first window is partial (its first ``shift``
    positions lie before the map), as is the last one when the length is not a whole number of windows. A partial
    window uses the block of the weight for the positions it has, which equals zero-padding it to a whole window
    and cropping the output back.

    Args:
        x (Tensor): ``(B, H, W, C)``.
        weight (Tensor): ``(L * S, L * S)`` with ``L = window_size`` and ``S = segment_channels``; its rows and
            columns are ordered (position, channel of the segment), as the official ``mlp_h`` / ``mlp_w``.
        bias (Tensor, optional): ``(L * S,)``.
        window_size (int): ``L``.
        segment_channels (int): ``S``; ``C`` must be a multiple of it.
        axis (int): 1 mixes along the height (every column), 2 along the width (every row).
        shift (int): Offset of the window grid, in ``[0, L)``. Defaults to 0.

    Returns:
        Tensor: ``(B, H, W, C)``.
    """
    if axis not in (1, 2):
        raise ValueError(f'window_mix mixes axis 1 (height) or 2 (width) of a (B, H, W, C) map, got axis={axis}.')
    L, S = window_size, segment_channels
    if not 0 <= shift < L:
        raise ValueError(f'window_mix needs 0 <= shift < window_size, got shift={shift}, window_size={L}.')
    G = x.shape[3] // S  # segments
    N = x.shape[axis]

    def mix(start: int, num: int, length: int, offset: int) -> torch.Tensor:
        # num windows of `length` positions from `start`, using window positions offset .. offset + length - 1
        part = x.narrow(axis, start, num * length) if num * length < N else x
        w, b = weight, bias
        if length < L:
            w = weight.view(L, S, L, S)[offset:offset + length, :, offset:offset + length].reshape(length * S, -1)
            b = bias.view(L, S)[offset:offset + length].reshape(-1) if bias is not None else None
        B, H, W, C = part.shape
        if axis == 1:  # B, num * length, W, C -> B, num, W, G, length, S
            y = part.reshape(B, num, length, W, G, S).permute(0, 1, 3, 4, 2, 5)
        else:  # B, H, num * length, C -> B, H, num, G, length, S
            y = part.reshape(B, H, num, length, G, S).permute(0, 1, 2, 4, 3, 5)
        shape = y.shape
        y = F.linear(y.reshape(*shape[:4], length * S), w, b).reshape(shape)
        y = y.permute(0, 1, 4, 2, 3, 5) if axis == 1 else y.permute(0, 1, 2, 4, 3, 5)
        return y.reshape(B, H, W, C)

    parts, start = [], 0
    if shift:  # the first window: positions shift .. L - 1 of a window that starts before the map
        first = min(L - shift, N)
        parts.append(mix(0, 1, first, shift))
        start = first
    n, r = divmod(N - start, L)
    if n:
        parts.append(mix(start, n, L, 0))
    if r:  # the last window: its first r positions
        parts.append(mix(start + n * L, 1, r, 0))
    return torch.cat(parts, dim=axis) if len(parts) > 1 else parts[0]


class ChannelMlp(nn.Module):
    """Linear -> activation -> Linear on the last (channel) axis.

    Args:
        in_features (int): Input channels.
        hidden_features (int): Hidden channels.
        out_features (int, optional): Output channels. Defaults to None (``in_features``).
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: Optional[int] = None,
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class WeightedPermuteMLP(nn.Module):
    """Height, width and channel branches, fused with split-attention weights, on a channel-last map.

    ``y = proj(a_h * h + a_w * w + a_c * c)`` with ``h``/``w`` the windowed height/width mixing, ``c = mlp_c(x)``
    and ``(a_h, a_w, a_c)`` a per-image, per-channel softmax over the three branches predicted from the spatial
    mean of ``h + w + c``.

    Args:
        dim (int): Channels ``C``.
        segment_dim (int): Channel segments; ``C`` must be a multiple of it (``S = C / segment_dim``).
        window_size (int, optional): Positions ``L`` mixed together along each axis. Defaults to None
            (``segment_dim``: the official layer, whose H/W weights are ``Linear(C, C)``).
        shift (bool): Offset the windows by half a window along every axis longer than one window (Swin's
            shifted windows: alternate blocks let information cross window borders). Axes of at most
            ``window_size`` positions are never shifted, so the trained size stays the official layer.
            Defaults to False.
        bias (bool): Bias of the three branch projections (the official ``qkv_bias``). Defaults to False.
        act_cfg (dict): Activation of the reweighting MLP. Defaults to ``dict(type='GELU')``.

    Examples:
        >>> import torch
        >>> layer = WeightedPermuteMLP(384, segment_dim=16)  # the official ViP-S/7 layer of stages 1-3
        >>> layer(torch.rand(2, 16, 16, 384)).shape  # B, H, W, C: the trained size, one window per axis
        torch.Size([2, 16, 16, 384])
        >>> layer(torch.rand(2, 25, 42, 384)).shape  # windows of 16 rows/columns, the last ones partial
        torch.Size([2, 25, 42, 384])
    """

    def __init__(self, dim: int, segment_dim: int, window_size: Optional[int] = None, shift: bool = False,
                 bias: bool = False, act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        if segment_dim < 1 or dim % segment_dim:
            raise ValueError(f'WeightedPermuteMLP needs channels divisible by segment_dim, got dim={dim}, '
                             f'segment_dim={segment_dim}.')
        window_size = segment_dim if window_size is None else window_size
        if window_size < 1:
            raise ValueError(f'WeightedPermuteMLP window_size must be >= 1, got {window_size}.')
        self.dim = dim
        self.segment_dim = segment_dim
        self.segment_channels = dim // segment_dim
        self.window_size = window_size
        self.shift = shift
        span = window_size * self.segment_channels
        self.mlp_c = nn.Linear(dim, dim, bias=bias)
        self.mlp_h = nn.Linear(span, span, bias=bias)
        self.mlp_w = nn.Linear(span, span, bias=bias)
        self.reweight = ChannelMlp(dim, dim // 4, dim * 3, act_cfg=act_cfg)
        self.proj = nn.Linear(dim, dim)

    def extra_repr(self) -> str:
        return f'segment_dim={self.segment_dim}, window_size={self.window_size}, shift={self.shift}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        L, S = self.window_size, self.segment_channels
        shift_h, shift_w = (L // 2 if self.shift and n > L else 0 for n in (H, W))
        h = window_mix(x, self.mlp_h.weight, self.mlp_h.bias, L, S, axis=1, shift=shift_h)
        w = window_mix(x, self.mlp_w.weight, self.mlp_w.bias, L, S, axis=2, shift=shift_w)
        c = self.mlp_c(x)
        # split attention over the branches: B, C -> B, 3C -> B, C, 3, softmax over the 3 -> 3 x (B, 1, 1, C)
        a = h.mean((1, 2)) + w.mean((1, 2)) + c.mean((1, 2))
        a = self.reweight(a).reshape(B, C, 3).softmax(dim=2).permute(2, 0, 1).contiguous()
        a_h, a_w, a_c = a[:, :, None, None]
        return self.proj((h * a_h).addcmul_(w, a_w).addcmul_(c, a_c))
