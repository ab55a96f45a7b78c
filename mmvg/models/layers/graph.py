"""The Vision GNN graph (Han et al., "Vision GNN: An Image is Worth Graph of Nodes", NeurIPS 2022,
arXiv:2206.00272) at any input size, in memory linear in the number of nodes.

Each node of a ``(H, W)`` feature map is linked to its ``k`` nearest neighbours (with dilation ``d``: every
``d``-th of the ``k * d`` nearest) among the key nodes: the map itself, or the map average-pooled by ``r``. The
distance is the squared L2 distance of the channel-normalised features plus a relative-position term. The
max-relative graph convolution then takes ``max_j (x_j - x_i)`` over the neighbours, interleaves it channel by
channel with ``x_i`` and applies a grouped 1x1 conv, norm and activation.

What differs from the official code (``vig_pytorch/gcn_lib``), and why:

- **Exact KNN in chunks.** The official KNN builds the full ``N x M`` distance matrix, several temporaries of it
  and an ``N x M`` relative-position matrix (4.5 GB per block at stage 1 for a 1344x800 image). Here query nodes
  are processed in chunks whose ``[B, rows, M]`` fp32 score block fits ``chunk_bytes``; the neighbour sets are
  those of the dense computation (ties aside). Distances are computed in fp32 under AMP, without gradients.
- **Relative position computed, not stored.** The official term is ``-2 <E(p_i), E(p_j)> / C`` for the 2-D
  sin-cos embeddings ``E`` of the node positions. Since ``<E(p), E(q)> = sum_w cos(w (p_row - q_row)) +
  sum_w cos(w (p_col - q_col))``, it is a row table ``[H, Hk]`` plus a column table ``[W, Wk]``, added to each
  chunk of scores by broadcasting (:class:`RelativePosition`). It is geometric at every size: query nodes sit at
  their grid indices, pooled key nodes at the centre of their pooling window, in the same units as in
  pre-training. The official code instead stores the table for 224x224 inputs and, for other sizes, resizes
  the flattened ``N x M`` matrix as an image, which mixes unrelated nodes.
- **The checkpoints' own layout at the pre-training size.** For pooled keys (``r > 1``) the official table is
  the ``N x N`` self table resized along its flattened key axis to ``N / r^2`` columns, so each pooled key
  carries a bicubic blend of the embeddings of a few consecutive nodes of the flattened grid rather than the
  position of its window. Released weights were trained with it, so at the pre-training grid (e.g. 56x56 and
  28x28 for a 224 input) the same table is computed, from the per-node embeddings (``pretrain_size``), and
  the official features are reproduced; other sizes use the geometric term.
- **Any grid size.** Pooling uses ``ceil_mode`` and averages only the pixels inside the map, so grids that are not
  multiples of ``r`` keep their last partial window (the official code needs ``H`` and ``W`` divisible by ``r``).
  Grids with fewer than ``k * d`` key nodes lower the dilation to ``max(1, M // k)`` and ``k`` to ``M``.
- **Lean max-relative aggregation.** ``max_j (x_j - x_i) = max_j x_j - x_i``: the neighbour features are
  gathered chunk by chunk without gradients and only the arg-max (``uint8``) is kept for the backward pass,
  instead of two ``[B, C, N, k]`` gathers held by autograd.
- **Lean activations when training.** In the FFN, the graph conv + ``fc2`` and the stem, a BN and GELU are fused
  with the conv that follows them (:func:`conv_norm_chain`): the backward pass recomputes the BN and GELU outputs
  from the BN input instead of keeping both (autograd keeps three maps of the hidden width, this keeps one). The
  outputs and running statistics are those of the plain layers and the gradients the same up to rounding; other
  norms (SyncBN, ...) run the layers as they are.
"""
import functools
from typing import ContextManager, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from timm.layers import DropPath
from torch.autograd.function import once_differentiable

from .pos_embed import sincos_frequencies, sincos_grid_embed_2d
from .recording import record_into

#: Default memory budget of one chunk of the KNN scores (``[B, rows, M]`` fp32) and of the neighbour gather.
DEFAULT_CHUNK_BYTES = 128 * 2**20


class ConvNorm(nn.Sequential):
    """Conv2d (with bias, as in the official model) -> norm -> optional activation.

    The conv keeps PyTorch's default initialisation, as mmpretrain's port does: the norm that follows it fixes the
    scale of its output.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Defaults to 1.
        stride (int): Defaults to 1.
        groups (int): Defaults to 1.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): None for no activation. Defaults to None.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1, groups: int = 1,
                 norm_cfg: dict = dict(type='BN'), act_cfg: Optional[dict] = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        if act_cfg is not None:
            self.act = build_activation_layer(act_cfg)


# -- norm + activation + conv, recomputed in the backward pass ----------------------------------------------------
#: Activations recomputed by :func:`conv_norm_chain`: elementwise and without parameters.
RECOMPUTED_ACTS = (nn.GELU, nn.ReLU, nn.SiLU)


class _NormActConv(torch.autograd.Function):
    """``conv(act(norm(x)))`` keeping only ``x`` for the backward pass, which recomputes the norm and activation.

    Autograd would keep ``x`` (for the norm), the norm output (for the activation) and the activation output (for
    the conv): three maps where one suffices. The forward pass runs the modules themselves (same outputs and
    running-statistic updates); the backward pass recomputes ``act(norm(x))`` with the forward's batch or running
    statistics under the forward's autocast state and runs the kernels autograd would run on it.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, norm_weight: Optional[torch.Tensor], norm_bias: Optional[torch.Tensor],
                conv_weight: torch.Tensor, conv_bias: Optional[torch.Tensor], norm: nn.BatchNorm2d,
                act: Optional[nn.Module], conv: nn.Conv2d) -> torch.Tensor:
        # as nn.BatchNorm2d: batch statistics in training mode or without running ones
        batch_stats = norm.training or norm.running_mean is None
        stats = (None, None) if batch_stats else (norm.running_mean.clone(), norm.running_var.clone())
        a = norm(x)
        if act is not None:
            a = act(a)
        out = conv(a)
        ctx.save_for_backward(x, norm_weight, norm_bias, conv_weight, *stats)
        ctx.modules, ctx.batch_stats, ctx.act_dtype = (norm, act, conv), batch_stats, a.dtype
        device = x.device.type
        ctx.autocast = (device, torch.get_autocast_dtype(device), torch.is_autocast_enabled(device))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, norm_weight, norm_bias, conv_weight, running_mean, running_var = ctx.saved_tensors
        norm, act, conv = ctx.modules
        needs = ctx.needs_input_grad
        device, dtype, enabled = ctx.autocast
        with torch.enable_grad(), torch.autocast(device, dtype=dtype, enabled=enabled):
            leaves = [t.detach().requires_grad_(need) if t is not None else None
                      for t, need in zip((x, norm_weight, norm_bias), needs)]
            a = F.batch_norm(leaves[0], running_mean, running_var, leaves[1], leaves[2], ctx.batch_stats, 0.,
                             norm.eps)
            if act is not None:
                a = act(a)
        # the conv ran in the dtype of its output (autocast casts its input and parameters to it)
        inputs = [t for t, need in zip(leaves, needs) if need]
        grad_a, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, a.detach().to(grad.dtype), conv_weight.to(grad.dtype), None if conv.bias is None else
            [conv.out_channels], conv.stride, conv.padding, conv.dilation, False, [0, 0], conv.groups,
            [bool(inputs), needs[3], needs[4]])
        grads = iter(torch.autograd.grad(a, inputs, grad_a.to(ctx.act_dtype)) if inputs else ())
        out = [next(grads) if need else None for need in needs[:3]]
        out.append(grad_weight.to(conv_weight.dtype) if needs[3] else None)
        out.append(grad_bias.to(conv.bias.dtype) if needs[4] else None)
        return (*out, None, None, None)


def _recomputable(x: torch.Tensor, norm: nn.Module, act: Optional[nn.Module], conv: nn.Module) -> bool:
    """Whether :class:`_NormActConv` computes ``conv(act(norm(x)))`` here: plain BN, a listed activation, a conv
    with numeric zero padding, gradients needed; not under scripting, tracing or compilation."""
    if not (torch.is_grad_enabled() and isinstance(x, torch.Tensor) and type(norm) is nn.BatchNorm2d
            and (act is None or type(act) in RECOMPUTED_ACTS) and type(conv) is nn.Conv2d
            and conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)):
        return False
    if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    return x.requires_grad or any(p.requires_grad for m in (norm, conv) for p in m.parameters())


def conv_norm_chain(x: torch.Tensor, *layers: ConvNorm) -> torch.Tensor:
    """``layers[-1](...(layers[0](x)))`` for :class:`ConvNorm` layers, in less memory when training.

    Each layer's norm and activation are fused with the next layer's conv (:class:`_NormActConv`): only the norm
    input is kept for the backward pass, not the norm and activation outputs. Outputs are the same, gradients the
    same up to rounding. Other norms (e.g. SyncBN), activations or convs, and inference, run the layers as they are.

    Args:
        x (Tensor): Input of ``layers[0]``.
        *layers (ConvNorm): Layers applied in order.

    Returns:
        Tensor: Output of ``layers[-1]``.
    """
    x = layers[0].conv(x)
    for layer, following in zip(layers[:-1], layers[1:]):
        norm, act, conv = layer.norm, getattr(layer, 'act', None), following.conv
        if _recomputable(x, norm, act, conv):
            x = _NormActConv.apply(x, norm.weight, norm.bias, conv.weight, conv.bias, norm, act, conv)
        else:
            x = conv(act(norm(x)) if act is not None else norm(x))
    x = layers[-1].norm(x)
    return layers[-1].act(x) if hasattr(layers[-1], 'act') else x


# -- relative position -----------------------------------------------------------------------------------------
class RelativePosition:
    """ViG's relative-position term between a query grid and its key grid, added to squared feature distances.

    Either separable, ``bias[i, j] = row[row_i, krow_j] + col[col_i, kcol_j]`` (geometric, any size), or a small
    dense ``table`` (the checkpoints' layout at the pre-training grid, as large as the official stored table).
    Build it with :func:`relative_position`.

    Args:
        query_size (tuple[int, int]): Query grid ``(H, W)``.
        key_size (tuple[int, int]): Key grid ``(Hk, Wk)``.
        row (Tensor, optional): ``(H, Hk)`` row term.
        col (Tensor, optional): ``(W, Wk)`` column term.
        table (Tensor, optional): ``(H * W, Hk * Wk)`` full term, instead of ``row`` and ``col``.
    """

    def __init__(self, query_size: Tuple[int, int], key_size: Tuple[int, int], row: Optional[torch.Tensor] = None,
                 col: Optional[torch.Tensor] = None, table: Optional[torch.Tensor] = None) -> None:
        self.query_size, self.key_size = tuple(query_size), tuple(key_size)
        self.row, self.col, self.table = row, col, table
        if table is None:
            h, w = self.query_size
            nodes = torch.arange(h * w, device=row.device)
            self.query_rows, self.query_cols = nodes // w, nodes % w

    def subtract_from(self, scores: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """``scores[:, i - start, j] -= bias[i, j]`` for the queries ``start <= i < end``; ``scores``: (B, q, M)."""
        if self.table is not None:
            return scores.sub_(self.table[start:end])
        hk, wk = self.key_size
        view = scores.view(scores.shape[0], end - start, hk, wk)  # B, q, Hk, Wk
        view.sub_(self.row[self.query_rows[start:end]][:, :, None])  # q, Hk, 1
        view.sub_(self.col[self.query_cols[start:end]][:, None, :])  # q, 1, Wk
        return scores

    def dense(self) -> torch.Tensor:
        """The full ``(H * W, Hk * Wk)`` term, as the official code stores it (used by the dense reference)."""
        if self.table is not None:
            return self.table
        n, (hk, wk) = len(self.query_rows), self.key_size
        bias = self.row[self.query_rows][:, :, None] + self.col[self.query_cols][:, None, :]
        return bias.reshape(n, hk * wk)


def _axis_term(dim: int, length: int, r: int) -> torch.Tensor:
    """``-2 / dim * sum_w cos(w (p - c))`` for positions ``p < length`` and pooled-window centres ``c``."""
    start = torch.arange(0, length, r, dtype=torch.float64)
    centres = (start + torch.clamp(start + r, max=length) - 1) / 2  # mean position of each (partial) window
    delta = torch.arange(length, dtype=torch.float64)[:, None] - centres[None, :]  # length, ceil(length / r)
    return torch.cos(delta[..., None] * sincos_frequencies(dim)).sum(-1) * (-2. / dim)


@functools.lru_cache(maxsize=64)
def relative_position(dim: int, query_size: Tuple[int, int], r: int = 1, pretrain_layout: bool = False,
                      device: Optional[torch.device] = None) -> RelativePosition:
    """The relative-position term of a ``dim``-channel graph on a ``query_size`` grid whose keys are pooled by ``r``.

    Computed in float64 and stored in float32 on ``device``; cached per arguments.

    Args:
        dim (int): Channels of the graph features (divisible by 4).
        query_size (tuple[int, int]): ``(H, W)`` of the query grid.
        r (int): Pooling ratio of the keys (ceil mode). Defaults to 1.
        pretrain_layout (bool): Build the official checkpoints' table for pooled keys, a bicubic resampling of the
            flattened query embeddings to ``H * W // r**2`` keys; needs ``H`` and ``W`` divisible by ``r``.
            Defaults to False (geometric).
        device (torch.device, optional): Defaults to None (CPU).
    """
    h, w = query_size
    key_size = (-(-h // r), -(-w // r))
    if not pretrain_layout or r == 1:  # for r == 1 both layouts are the same
        row, col = _axis_term(dim, h, r), _axis_term(dim, w, r)
        return RelativePosition(query_size, key_size, row=row.float().to(device), col=col.float().to(device))
    if h % r or w % r:
        raise ValueError(f'the pre-training relative-position layout needs a grid divisible by r={r}, '
                         f'got {h}x{w}')
    embed = sincos_grid_embed_2d(dim, (h, w))  # N, dim
    num_keys = key_size[0] * key_size[1]
    # resample the flattened node axis N -> N / r^2 exactly as the official code resizes its table
    key_embed = F.interpolate(embed.T[None, None], size=(dim, num_keys), mode='bicubic',
                              align_corners=False)[0, 0].T  # M, dim
    table = embed @ key_embed.T * (-2. / dim)  # N, M
    return RelativePosition(query_size, key_size, table=table.float().to(device))


# -- KNN -------------------------------------------------------------------------------------------------------
def fit_neighbours(k: int, dilation: int, num_keys: int) -> Tuple[int, int]:
    """``(k, dilation)`` that fit ``num_keys`` candidates: unchanged if ``k * dilation <= num_keys``."""
    if k * dilation <= num_keys:
        return k, dilation
    return min(k, num_keys), max(1, num_keys // k)


def _dense_topk(x: torch.Tensor, y: torch.Tensor, kd: int, rel_pos: Optional[RelativePosition]) -> torch.Tensor:
    # The official computation and memory profile, for reference and benchmarks: the N x M relative-position
    # matrix exists before the distances (official: resized before the graph conv), then the N x M distance
    # matrix with its temporaries, then its negation for topk.
    bias = rel_pos.dense() if rel_pos is not None else None  # N, M
    xt = x.transpose(1, 2)  # B, N, C
    inner = -2 * torch.bmm(xt, y)  # B, N, M
    dist = xt.square().sum(-1, keepdim=True) + inner + y.square().sum(1, keepdim=True)
    if bias is not None:
        dist += bias
    return torch.topk(-dist, kd, dim=-1).indices


def _chunked_topk(x: torch.Tensor, y: torch.Tensor, kd: int, rel_pos: Optional[RelativePosition],
                  chunk_bytes: int) -> torch.Tensor:
    B, _, N = x.shape
    M = y.shape[-1]
    rows = max(1, chunk_bytes // (4 * max(B, 1) * M))  # B = 0: an empty batch
    xt = x.transpose(1, 2)  # B, N, C
    y_sq = y.square().sum(1, keepdim=True)  # B, 1, M
    idx = torch.empty(B, N, kd, dtype=torch.long, device=x.device)
    for start in range(0, N, rows):
        end = min(start + rows, N)
        # -(|x - y|^2 + bias) up to |x|^2, which is constant per query: 2 x.y - |y|^2 - bias
        scores = torch.baddbmm(y_sq, xt[:, start:end], y, beta=-1, alpha=2)  # B, q, M
        if rel_pos is not None:
            rel_pos.subtract_from(scores, start, end)
        idx[:, start:end] = scores.topk(kd, dim=-1).indices
        del scores  # before the next chunk is allocated
    return idx


@torch.no_grad()
def knn_graph(x: torch.Tensor,
              y: Optional[torch.Tensor],
              k: int,
              dilation: int = 1,
              rel_pos: Optional[RelativePosition] = None,
              chunk_bytes: int = DEFAULT_CHUNK_BYTES,
              dense: bool = False) -> torch.Tensor:
    """Dilated k-nearest neighbours of the query nodes ``x`` among the key nodes ``y``.

    Features are L2-normalised over channels; the distance is the squared L2 distance plus ``rel_pos``; the
    neighbours are every ``dilation``-th of the ``k * dilation`` nearest, nearest first. Runs in fp32 without
    gradients.

    Args:
        x (Tensor): Queries, ``(B, C, N)``.
        y (Tensor, optional): Keys, ``(B, C, M)``; None or ``x`` itself for a graph on ``x``.
        k (int): Neighbours per node.
        dilation (int): Defaults to 1.
        rel_pos (RelativePosition, optional): Term added to the distance. Defaults to None.
        chunk_bytes (int): Budget of one ``[B, rows, M]`` score chunk. Defaults to 128 MiB.
        dense (bool): Use the official dense computation (full ``N x M`` matrices) instead of chunks; for
            reference and benchmarks. Defaults to False.

    Returns:
        Tensor: ``(B, N, k')`` indices into the keys, ``k' = k`` unless there are fewer than ``k * dilation``
        keys (see :func:`fit_neighbours`).

    Examples:
        >>> import torch
        >>> x = torch.rand(2, 16, 300)
        >>> knn_graph(x, None, k=9, dilation=2, chunk_bytes=2**16).shape
        torch.Size([2, 300, 9])
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        same = y is None or y is x
        x = F.normalize(x.float(), dim=1)
        y = x if same else F.normalize(y.float(), dim=1)
        k, dilation = fit_neighbours(k, dilation, y.shape[-1])
        if dense:
            idx = _dense_topk(x, y, k * dilation, rel_pos)
        else:
            idx = _chunked_topk(x, y, k * dilation, rel_pos, chunk_bytes)
    return idx[..., ::dilation] if dilation > 1 else idx


# -- max-relative aggregation -------------------------------------------------------------------------------------
class _MaxRelative(torch.autograd.Function):
    """``max_j y[:, :, idx[b, i, j]] - x[:, :, i]``, chunked; saves only ``idx`` and a uint8 arg-max."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, chunk_bytes: int) -> torch.Tensor:
        B, C, N = x.shape
        K = idx.shape[-1]
        rows = max(1, chunk_bytes // (max(B, 1) * C * K * y.element_size()))  # one [B, C, rows, K] gather
        out = torch.empty_like(x)
        arg = torch.empty((B, C, N), dtype=torch.uint8 if K <= 256 else torch.long, device=x.device)
        for start in range(0, N, rows):
            end = min(start + rows, N)
            nbr = idx[:, start:end].reshape(B, 1, (end - start) * K).expand(-1, C, -1)  # B, C, q*K
            out[:, :, start:end], arg[:, :, start:end] = y.gather(2, nbr).view(B, C, end - start, K).max(-1)
        out.sub_(x)
        ctx.save_for_backward(idx, arg)
        ctx.rows, ctx.num_keys = rows, y.shape[-1]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        idx, arg = ctx.saved_tensors
        grad_x = -grad if ctx.needs_input_grad[0] else None
        grad_y = None
        if ctx.needs_input_grad[1]:
            B, C, N = grad.shape
            K = idx.shape[-1]
            acc_dtype = torch.promote_types(grad.dtype, torch.float32)  # fp16 gradients accumulate in fp32
            acc = grad.new_zeros((B, C, ctx.num_keys), dtype=acc_dtype)
            for start in range(0, N, ctx.rows):
                end = min(start + ctx.rows, N)
                nbr = idx[:, start:end].unsqueeze(1).expand(B, C, end - start, K)
                chosen = nbr.gather(3, arg[:, :, start:end, None].long()).squeeze(3)  # B, C, q
                acc.scatter_add_(2, chosen, grad[:, :, start:end].to(acc_dtype))
                del nbr, chosen  # before the next chunk is allocated
            grad_y = acc.to(grad.dtype)
        return grad_x, grad_y, None, None


def max_relative(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> torch.Tensor:
    """Max-relative aggregation ``max_j (y_j - x_i)`` over the neighbours ``idx`` of each node.

    Args:
        x (Tensor): Node features, ``(B, C, N)``.
        y (Tensor): Key features, ``(B, C, M)`` (``x`` itself for a graph on ``x``).
        idx (Tensor): ``(B, N, K)`` neighbour indices into ``y``, from :func:`knn_graph`.
        chunk_bytes (int): Budget of one ``[B, C, rows, K]`` neighbour gather. Defaults to 128 MiB.

    Returns:
        Tensor: ``(B, C, N)``; gradients reach the arg-max neighbour, as with ``torch.max``.
    """
    return _MaxRelative.apply(x, y.to(x.dtype), idx, chunk_bytes)


# -- layers ------------------------------------------------------------------------------------------------------
class GraphRecord(NamedTuple):
    """The graph one :class:`MaxRelativeGraphConv` call used, as recorded by :func:`record_graphs`.

    Attributes:
        idx (Tensor): ``(B, N, k)`` neighbour indices into the keys, node ``i`` at row ``i // W``, column
            ``i % W`` of the query grid, key ``j`` at row ``j // Wk``, column ``j % Wk`` of the key grid.
        query_size (tuple[int, int]): ``(H, W)`` of the nodes.
        key_size (tuple[int, int]): ``(Hk, Wk)`` of the keys, ``ceil(H / r), ceil(W / r)``.
        reduce_ratio (int): ``r``: key ``(a, b)`` is the mean of the nodes in rows ``[a r, (a + 1) r)`` and
            columns ``[b r, (b + 1) r)`` (cut at the map's edge).
        dilation (int): The dilation used, lowered when there are fewer than ``k * dilation`` keys.
    """
    idx: torch.Tensor
    query_size: Tuple[int, int]
    key_size: Tuple[int, int]
    reduce_ratio: int
    dilation: int


class MaxRelativeGraphConv(nn.Module):
    """Dynamic max-relative graph conv: KNN graph -> ``max_j (x_j - x_i)`` -> grouped 1x1 conv, norm, act.

    The grouped conv sees ``x_i`` and ``max_j (x_j - x_i)`` interleaved channel by channel
    (``x_0, m_0, x_1, m_1, ...``), as in the official ``MRConv2d``, so official weights apply unchanged.

    Args:
        in_channels (int): Input channels (divisible by 4 when ``relative_pos``).
        out_channels (int): Output channels.
        k (int): Neighbours per node. Defaults to 9.
        dilation (int): Defaults to 1.
        reduce_ratio (int): Keys are the map average-pooled by this ratio (ceil mode). Defaults to 1.
        relative_pos (bool): Add the relative-position term to the distances. Defaults to True.
        pretrain_size (tuple[int, int], optional): The pre-training grid, where the checkpoints' own
            relative-position layout is used for pooled keys. None for the geometric term everywhere.
            Defaults to None.
        groups (int): Groups of the 1x1 conv. Defaults to 4.
        knn_chunk_bytes (int): Memory budget of one chunk of the graph construction. Defaults to 128 MiB.
        dense_knn (bool): The official dense KNN (full ``N x M`` matrices), for reference. Defaults to False.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.

    Examples:
        >>> import torch
        >>> conv = MaxRelativeGraphConv(32, 64, k=9, reduce_ratio=4).eval()
        >>> conv(torch.rand(2, 32, 37, 50)).shape  # keys: 10 x 13, the last row and column partial windows
        torch.Size([2, 64, 37, 50])
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 k: int = 9,
                 dilation: int = 1,
                 reduce_ratio: int = 1,
                 relative_pos: bool = True,
                 pretrain_size: Optional[Sequence[int]] = None,
                 groups: int = 4,
                 knn_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 dense_knn: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        if relative_pos and in_channels % 4:
            raise ValueError(f'the relative-position term needs channels divisible by 4, got {in_channels}')
        if k < 1 or dilation < 1 or reduce_ratio < 1 or knn_chunk_bytes < 1:
            raise ValueError(f'k, dilation, reduce_ratio and knn_chunk_bytes must be >= 1, got {k}, {dilation}, '
                             f'{reduce_ratio}, {knn_chunk_bytes}')
        self.k, self.dilation, self.reduce_ratio = k, dilation, reduce_ratio
        self.relative_pos = relative_pos
        self.pretrain_size = tuple(pretrain_size) if pretrain_size is not None else None
        self.knn_chunk_bytes, self.dense_knn = knn_chunk_bytes, dense_knn
        self.proj = ConvNorm(2 * in_channels, out_channels, groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
        #: A list each forward appends its :class:`GraphRecord` to; None (the default) records nothing.
        #: Set by :func:`record_graphs`.
        self.graph_records: Optional[List[GraphRecord]] = None

    def extra_repr(self) -> str:
        return (f'k={self.k}, dilation={self.dilation}, reduce_ratio={self.reduce_ratio}, '
                f'relative_pos={self.relative_pos}, dense_knn={self.dense_knn}')

    def build_graph(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Keys ``(B, C, M)`` and neighbour indices ``(B, N, k)`` of the map ``x``: ``(B, C, H, W)``."""
        B, C, H, W = x.shape
        r = self.reduce_ratio
        nodes = x.flatten(2)  # B, C, N
        keys = nodes if r == 1 else F.avg_pool2d(x, r, r, ceil_mode=True, count_include_pad=False).flatten(2)
        rel_pos = None
        if self.relative_pos:
            at_pretrain = r > 1 and self.pretrain_size == (H, W)
            rel_pos = relative_position(C, (H, W), r, at_pretrain, x.device)
        idx = knn_graph(nodes, keys, self.k, self.dilation, rel_pos, self.knn_chunk_bytes, self.dense_knn)
        return keys, idx

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """The input of :attr:`proj`: ``x_i`` and ``max_j (x_j - x_i)`` interleaved, ``(B, 2C, H, W)``."""
        B, C, H, W = x.shape
        keys, idx = self.build_graph(x)
        if self.graph_records is not None:
            r = self.reduce_ratio
            self.graph_records.append(GraphRecord(
                idx.detach(), (H, W), (-(-H // r), -(-W // r)), r,
                fit_neighbours(self.k, self.dilation, keys.shape[-1])[1]))
        nodes = x.flatten(2)  # B, C, N
        rel = max_relative(nodes, keys, idx, self.knn_chunk_bytes)  # B, C, N
        return torch.stack([nodes, rel], dim=2).reshape(B, 2 * C, H, W)  # x_0, m_0, x_1, m_1, ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.aggregate(x))


def record_graphs(model: nn.Module) -> ContextManager[Dict[str, List[GraphRecord]]]:
    """Record the neighbours every :class:`MaxRelativeGraphConv` of ``model`` uses while the context is open.

    Yields a dict from each graph conv's module name (e.g. ``'stages.1.blocks.0.grapher.graph_conv'``) to the list
    of its :class:`GraphRecord`, one per forward call; the model computes exactly what it computes otherwise.

    Args:
        model (nn.Module): Any module containing graph convs (a backbone, a detector, the conv itself).

    Examples:
        >>> import torch
        >>> from mmvg.models import PyramidViG
        >>> model = PyramidViG(arch='tiny').eval()
        >>> with torch.no_grad(), record_graphs(model) as graphs:
        ...     _ = model(torch.rand(1, 3, 64, 96))
        >>> rec = graphs['stages.0.blocks.0.grapher.graph_conv'][0]
        >>> tuple(rec.idx.shape), rec.query_size, rec.key_size, rec.dilation
        ((1, 384, 9), (16, 24), (4, 6), 1)
    """
    return record_into(model, MaxRelativeGraphConv, 'graph_records')


class Grapher(nn.Module):
    """ViG's graph block: 1x1 conv + norm -> max-relative graph conv (C -> 2C) -> 1x1 conv + norm, residual.

    Args:
        channels (int): Input and output channels.
        drop_path (float): Stochastic depth. Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the graph conv. Defaults to ``dict(type='GELU')``.
        **graph_kwargs: :class:`MaxRelativeGraphConv` arguments (``k``, ``dilation``, ``reduce_ratio``, ...).
    """

    def __init__(self, channels: int, drop_path: float = 0., norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'), **graph_kwargs) -> None:
        super().__init__()
        self.fc1 = ConvNorm(channels, channels, norm_cfg=norm_cfg)
        self.graph_conv = MaxRelativeGraphConv(channels, 2 * channels, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                               **graph_kwargs)
        self.fc2 = ConvNorm(2 * channels, channels, norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fc2(graph_conv(fc1(x))), the graph conv's norm and act fused with fc2's conv (conv_norm_chain)
        graph_conv = self.graph_conv
        return x + self.drop_path(conv_norm_chain(graph_conv.aggregate(self.fc1(x)), graph_conv.proj, self.fc2))


class FFN(nn.Module):
    """ViG's feed-forward block: 1x1 conv + norm + act -> 1x1 conv + norm, residual.

    Args:
        channels (int): Input and output channels.
        hidden_channels (int): Hidden channels.
        drop_path (float): Stochastic depth. Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, channels: int, hidden_channels: int, drop_path: float = 0.,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.fc1 = ConvNorm(channels, hidden_channels, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.fc2 = ConvNorm(hidden_channels, channels, norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(conv_norm_chain(x, self.fc1, self.fc2))  # fc2(fc1(x))


__all__ = ['ConvNorm', 'conv_norm_chain', 'RelativePosition', 'relative_position', 'fit_neighbours', 'knn_graph',
           'max_relative', 'GraphRecord', 'MaxRelativeGraphConv', 'record_graphs', 'Grapher', 'FFN',
           'DEFAULT_CHUNK_BYTES']
