"""Context clustering (Ma et al., "Image as Set of Points", ICLR 2023, arXiv:2303.01494) at any feature size.

The official op splits each map into ``fold x fold`` equal regions and asserts that the map divides by the fold.
Here a region is ``ceil(H / fold) x ceil(W / fold)`` points; the map is padded at the bottom/right to whole regions,
padded points are excluded from the centres (masked average pooling), from the assignment and from the aggregation,
and the output is cropped back. Where the map divides by the fold this is exactly the official computation.

Aggregation and dispatch are two matrix products over the ``[B, M, N]`` similarity, instead of the official
broadcast that materialises ``[B, M, N, D]`` (0.86 GB per op for CoC-small-25 at 1344x800); similarities and
products run in fp32 under AMP.
"""
import math
from typing import ContextManager, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .recording import record_into


def _pair(v: Union[int, Sequence[int]]):
    return (v, v) if isinstance(v, int) else tuple(v)


class ClusterRecord(NamedTuple):
    """The assignment one :class:`Cluster` call made, as recorded by :func:`record_clusters`.

    Attributes:
        assign (Tensor): ``(B, num_heads, H, W)`` int64 cluster of every point, in ``[0, num_centres)``: region
            ``(i, j)`` of the ``regions`` grid owns the ids ``(i * regions[1] + j) * ph * pw + c`` for its
            ``ph x pw`` centres ``c`` (row-major, the cells of ``adaptive_avg_pool2d`` over the region).
        regions (tuple[int, int]): ``(nh, nw)`` regions per column and row.
        region_size (tuple[int, int]): ``(rh, rw)`` points per region (the last row and column of regions may be
            cut by the map's edge).
        proposal_size (tuple[int, int]): ``(ph, pw)`` centres per region.
    """
    assign: torch.Tensor
    regions: Tuple[int, int]
    region_size: Tuple[int, int]
    proposal_size: Tuple[int, int]

    @property
    def num_centres(self) -> int:
        """Clusters per head over the whole map."""
        return self.regions[0] * self.regions[1] * self.proposal_size[0] * self.proposal_size[1]


class Cluster(nn.Module):
    """Context cluster token mixer: cluster points around pooled centres, aggregate, dispatch back.

    Args:
        dim (int): Input and output channels.
        num_heads (int): Heads; each clusters its own ``head_dim`` channels. Defaults to 4.
        head_dim (int): Channels per head. Defaults to 24.
        proposal_size (int | tuple[int, int]): Centre grid per region (h, w): ``2`` gives 4 centres,
            ``5`` 25, ``7`` 49. Defaults to 2.
        fold (int | tuple[int, int]): Regions per side (h, w); ``1`` clusters the whole map. Defaults to 2.

    Examples:
        >>> import torch
        >>> op = Cluster(64, num_heads=4, head_dim=32, proposal_size=2, fold=8)
        >>> op(torch.rand(1, 64, 37, 50)).shape
        torch.Size([1, 64, 37, 50])
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 4,
                 head_dim: int = 24,
                 proposal_size: Union[int, Sequence[int]] = 2,
                 fold: Union[int, Sequence[int]] = 2) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.proposal_size = _pair(proposal_size)
        self.fold = _pair(fold)
        self.f = nn.Conv2d(dim, num_heads * head_dim, kernel_size=1)  # features for similarity
        self.v = nn.Conv2d(dim, num_heads * head_dim, kernel_size=1)  # values
        self.proj = nn.Conv2d(num_heads * head_dim, dim, kernel_size=1)
        self.sim_alpha = nn.Parameter(torch.ones(1))
        self.sim_beta = nn.Parameter(torch.zeros(1))
        #: A list each forward appends its :class:`ClusterRecord` to; None (the default) records nothing.
        #: Set by :func:`record_clusters`.
        self.cluster_records: Optional[List[ClusterRecord]] = None

    def _to_regions(self, x: torch.Tensor, nh: int, rh: int, nw: int, rw: int) -> torch.Tensor:
        # B', D, nh*rh, nw*rw -> B'*nh*nw, D, rh, rw
        b, d = x.shape[:2]
        return x.reshape(b, d, nh, rh, nw, rw).permute(0, 2, 4, 1, 3, 5).reshape(b * nh * nw, d, rh, rw)

    def _record(self, nearest: torch.Tensor, B: int, H: int, W: int, nh: int, rh: int, nw: int,
                rw: int) -> ClusterRecord:
        # nearest: B*e*nh*nw, 1, rh*rw local centre ids -> B, e, H, W ids over the whole map
        num_local = self.proposal_size[0] * self.proposal_size[1]
        ids = nearest.reshape(B, self.num_heads, nh * nw, rh * rw)
        ids = ids + torch.arange(nh * nw, device=ids.device)[:, None] * num_local
        ids = ids.reshape(B, self.num_heads, nh, nw, rh, rw).permute(0, 1, 2, 4, 3, 5)
        ids = ids.reshape(B, self.num_heads, nh * rh, nw * rw)[:, :, :H, :W]
        return ClusterRecord(ids.detach().clone(), (nh, nw), (rh, rw), self.proposal_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        e, d = self.num_heads, self.head_dim
        feat = self.f(x).reshape(B * e, d, H, W)
        value = self.v(x).reshape(B * e, d, H, W)
        out_dtype = value.dtype
        dtype = torch.promote_types(out_dtype, torch.float32)  # at least fp32 under AMP
        feat, value = feat.to(dtype), value.to(dtype)

        # Regions of ceil(H / fold) x ceil(W / fold) points; pad to whole regions.
        rh, rw = math.ceil(H / self.fold[0]), math.ceil(W / self.fold[1])
        nh, nw = math.ceil(H / rh), math.ceil(W / rw)
        pad_h, pad_w = nh * rh - H, nw * rw - W
        padded = pad_h > 0 or pad_w > 0
        if padded:
            feat = F.pad(feat, (0, pad_w, 0, pad_h))
            value = F.pad(value, (0, pad_w, 0, pad_h))
            valid = F.pad(feat.new_ones(1, 1, H, W), (0, pad_w, 0, pad_h))
            valid = self._to_regions(valid, nh, rh, nw, rw)  # nh*nw, 1, rh, rw
            valid = valid.unsqueeze(0).expand(B * e, -1, -1, -1, -1).reshape(-1, 1, rh, rw)
        feat = self._to_regions(feat, nh, rh, nw, rw)  # b, d, rh, rw  (b = B*e*nh*nw)
        value = self._to_regions(value, nh, rh, nw, rw)

        with torch.autocast(device_type=x.device.type, enabled=False):
            centers = F.adaptive_avg_pool2d(feat, self.proposal_size)  # b, d, ph, pw
            value_centers = F.adaptive_avg_pool2d(value, self.proposal_size)
            if padded:  # average over valid points only
                count = F.adaptive_avg_pool2d(valid, self.proposal_size).clamp_min(1e-6)
                centers, value_centers = centers / count, value_centers / count
            b = feat.shape[0]
            centers = centers.flatten(2).transpose(1, 2)  # b, M, d
            value_centers = value_centers.flatten(2).transpose(1, 2)  # b, M, d
            points = feat.flatten(2).transpose(1, 2)  # b, N, d
            values = value.flatten(2).transpose(1, 2)  # b, N, d

            cos = F.normalize(centers, dim=-1) @ F.normalize(points, dim=-1).transpose(1, 2)  # b, M, N
            sim = torch.sigmoid(self.sim_beta.to(dtype) + self.sim_alpha.to(dtype) * cos)
            # each point belongs to its most similar centre only
            nearest = sim.argmax(dim=1, keepdim=True)  # b, 1, N
            assign = torch.zeros_like(sim).scatter_(1, nearest, 1.)
            if self.cluster_records is not None:
                self.cluster_records.append(self._record(nearest, B, H, W, nh, rh, nw, rw))
            sim = sim * assign
            if padded:
                sim = sim * valid.reshape(b, 1, rh * rw)
            centers_out = (sim @ values + value_centers) / (sim.sum(dim=-1, keepdim=True) + 1.0)  # b, M, d
            out = sim.transpose(1, 2) @ centers_out  # b, N, d

        out = out.transpose(1, 2).reshape(B * e, nh, nw, d, rh, rw)
        out = out.permute(0, 3, 1, 4, 2, 5).reshape(B, e * d, nh * rh, nw * rw)
        out = out[:, :, :H, :W].to(out_dtype)
        return self.proj(out)


def record_clusters(model: nn.Module) -> ContextManager[Dict[str, List[ClusterRecord]]]:
    """Record the assignment every :class:`Cluster` of ``model`` makes while the context is open.

    Yields a dict from each cluster op's module name (e.g. ``'stages.0.blocks.1.token_mixer'``) to the list of its
    :class:`ClusterRecord`, one per forward call; the model computes exactly what it computes otherwise.

    Args:
        model (nn.Module): Any module containing cluster ops (a backbone, a detector, the op itself).

    Examples:
        >>> import torch
        >>> op = Cluster(16, num_heads=2, head_dim=8, proposal_size=2, fold=2)
        >>> with torch.no_grad(), record_clusters(op) as clusters:
        ...     _ = op(torch.rand(1, 16, 9, 12))
        >>> rec = clusters[''][0]
        >>> tuple(rec.assign.shape), rec.regions, rec.num_centres
        ((1, 2, 9, 12), (2, 2), 16)
    """
    return record_into(model, Cluster, 'cluster_records')
