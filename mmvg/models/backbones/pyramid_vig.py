"""Pyramid Vision GNN (PViG) as a dense-prediction backbone, and the isotropic ViG.

Paper: Kai Han et al., "Vision GNN: An Image is Worth Graph of Nodes", NeurIPS 2022, https://arxiv.org/abs/2206.00272.
Official code: https://github.com/huawei-noah/Efficient-AI-Backbones (``vig_pytorch/``), re-written here.

What differs from the official code, and why:

- **Any input size.** The official model adds a 56x56 position embedding without resizing, so it runs only at
  224x224 (mmpretrain's port too). Here the embedding is stored at its pre-training size, so checkpoints load,
  and resized bicubically to the real grid; stage ``i`` has ``ceil(H / stride_i)`` rows.
- **A graph for any size, in linear memory.** The KNN runs in query chunks under a memory budget
  (``knn_chunk_bytes``) instead of materialising ``N x M`` distance and relative-position matrices (4.5 GB per
  block at stage 1 for a 1344x800 image); the relative-position term is computed from the real 2-D grids rather
  than by resizing a stored flattened matrix, and grids not divisible by the pooling ratio keep their partial
  windows. At the pre-training grid the checkpoints' own term is reproduced, so official features match.
  Details in :mod:`mmvg.models.layers.graph`.
- **Less activation memory when training.** Each BN + GELU is recomputed in the backward pass from the BN input
  rather than kept with its output and the next conv's input (:func:`mmvg.models.layers.graph.conv_norm_chain`):
  the same outputs and gradients; peak training memory at 1344x800 falls from 3.03 to 1.73 GiB.
- **No stored relative-position tables.** The official ``relative_pos`` tensors (frozen parameters, 2.5 MB per
  stage-1 block) are dropped when converting checkpoints: they are recomputed at run time for any grid.
- **One output contract.** ``out_indices`` are stage indices with an optional ``norm{i}`` each; freezing,
  ``norm_eval``, gradient checkpointing and stochastic depth follow :class:`PyramidBackbone`.
- **Checkpoints.** Official weights (bare or under ``'model'``/``'state_dict'``) and mmpretrain's converted ones
  load through ``init_cfg`` with automatic conversion (:func:`mmvg.models.utils.convert_vig`).

The released weights expect inputs normalised with mean = std = 0.5 (127.5 on 0-255 images).
"""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from timm.layers import to_2tuple

from mmvg.registry import MODELS
from ..layers import FFN, ConvNorm, Grapher, resize_pos_embed
from ..layers.graph import DEFAULT_CHUNK_BYTES, conv_norm_chain
from ..utils.ckpt_convert import convert_vig
from .base_backbone import PyramidBackbone, drop_path_rates, parse_arch, run_blocks


class ViGBlock(nn.Module):
    """Grapher (graph mixing) followed by FFN (channel mixing), each residual.

    Args:
        channels (int): Channels.
        ffn_ratio (float): Hidden channels of the FFN per channel. Defaults to 4.
        drop_path (float): Stochastic depth. Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
        **graph_kwargs: :class:`mmvg.models.layers.MaxRelativeGraphConv` arguments.
    """

    def __init__(self, channels: int, ffn_ratio: float = 4., drop_path: float = 0.,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'), **graph_kwargs) -> None:
        super().__init__()
        self.grapher = Grapher(channels, drop_path=drop_path, norm_cfg=norm_cfg, act_cfg=act_cfg, **graph_kwargs)
        self.ffn = FFN(channels, int(channels * ffn_ratio), drop_path=drop_path, norm_cfg=norm_cfg,
                       act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.grapher(x))


class ViGStage(nn.Module):
    """An optional 3x3 stride-2 conv + norm downsampling, then ViG blocks.

    Args:
        in_channels (int): Input channels.
        channels (int): Channels of the blocks.
        downsample (bool): Start with the stride-2 downsampling.
        ks (Sequence[int]): Neighbours of each block.
        dilations (Sequence[int]): Dilation of each block.
        drop_paths (Sequence[float]): Stochastic depth of each block.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        **block_kwargs: :class:`ViGBlock` arguments shared by all blocks.
    """

    def __init__(self, in_channels: int, channels: int, downsample: bool, ks: Sequence[int],
                 dilations: Sequence[int], drop_paths: Sequence[float], with_cp: bool = False,
                 norm_cfg: dict = dict(type='BN'), **block_kwargs) -> None:
        super().__init__()
        self.downsample = (ConvNorm(in_channels, channels, 3, stride=2, norm_cfg=norm_cfg) if downsample
                           else nn.Identity())
        self.blocks = nn.ModuleList([
            ViGBlock(channels, k=k, dilation=d, drop_path=dp, norm_cfg=norm_cfg, **block_kwargs)
            for k, d, dp in zip(ks, dilations, drop_paths)])
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_blocks(self.blocks, self.downsample(x), self.with_cp)


class ViGStem(nn.Sequential):
    """Conv layers, then a learned position embedding stored at the pre-training grid and resized (bicubic) to the
    real one, so it is frozen with the stem.

    Args:
        layers (Sequence[nn.Module]): The conv layers.
        channels (int): Output channels.
        pretrain_grid (tuple[int, int]): Grid of the stored embedding.
    """

    def __init__(self, layers: Sequence[nn.Module], channels: int, pretrain_grid: Sequence[int]) -> None:
        super().__init__(*layers)
        self.pos_embed = nn.Parameter(torch.zeros(1, channels, *pretrain_grid))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = conv_norm_chain(x, *self)  # B, C, ceil(H / stride), ceil(W / stride); as super().forward(x)
        return x + resize_pos_embed(self.pos_embed, x.shape[-2:])


class _ViGBackbone(PyramidBackbone):
    """What PViG and ViG share: their checkpoint converter."""

    convert_checkpoint = staticmethod(convert_vig)


@MODELS.register_module()
class PyramidViG(_ViGBackbone):
    """Pyramid Vision GNN backbone with four stages at strides 4, 8, 16 and 32.

    Every block links each node to its ``k = 9`` nearest neighbours (dilation ``min(i // 4 + 1, 49 // k)`` for
    the ``i``-th block) among the map average-pooled by ``reduce_ratios[stage]``, with the relative-position term.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``, ``'base'`` (aliases ``'t'``/``'ti'``, ``'s'``,
            ``'m'``, ``'b'``) or a dict with the keys ``depths`` and ``embed_dims`` (one entry per stage;
            channels divisible by 4). Defaults to ``'small'``.
        in_channels (int): Image channels. Defaults to 3.
        k (int): Neighbours per node. Defaults to 9.
        reduce_ratios (Sequence[int]): Pooling ratio of the keys in each stage. Defaults to (4, 2, 1, 1).
        pretrain_img_size (int | tuple[int, int]): Input size of pre-training; sets the stored position
            embedding (``size / 4``) and the grids where the checkpoints' relative-position layout applies.
            Defaults to 224.
        pretrain_pos_layout (bool): At the pre-training grid, use the official checkpoints' relative-position
            term for pooled keys (a blend of flattened-grid embeddings), so official weights reproduce their
            results at 224; False uses the geometric term at every size. Defaults to True.
        out_indices (int | Sequence[int]): Stage indices to return (negatives allowed). Defaults to (0, 1, 2, 3).
        ffn_ratio (float): Hidden channels of the FFN per channel. Defaults to 4.
        drop_path_rate (float): Stochastic depth, linear over all blocks. Defaults to 0.
        norm_cfg (dict): Norm of every conv. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
        out_norm_cfg (dict, optional): Norm of each output; None (the official features, as fed to FPN by the
            authors) for none. Defaults to None.
        knn_chunk_bytes (int): Memory budget of one chunk of the graph construction. Defaults to 128 MiB.
        dense_knn (bool): Use the official dense KNN (full ``N x M`` matrices); for reference and benchmarks.
            Defaults to False.
        frozen_stages (int): -1 freezes nothing, 0 the stem (with the position embedding), k also stages 0..k-1.
            Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads official, mmpretrain or mmvg
            checkpoints. Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import PyramidViG
        >>> model = PyramidViG(arch='tiny').eval()
        >>> for out in model(torch.rand(1, 3, 97, 131)):
        ...     print(tuple(out.shape))
        (1, 48, 25, 33)
        (1, 96, 13, 17)
        (1, 240, 7, 9)
        (1, 384, 4, 5)
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'ti', 'tiny'], dict(depths=[2, 2, 6, 2], embed_dims=[48, 96, 240, 384])),
        **dict.fromkeys(['s', 'small'], dict(depths=[2, 2, 6, 2], embed_dims=[80, 160, 400, 640])),
        **dict.fromkeys(['m', 'medium'], dict(depths=[2, 2, 16, 2], embed_dims=[96, 192, 384, 768])),
        **dict.fromkeys(['b', 'base'], dict(depths=[2, 2, 18, 2], embed_dims=[128, 256, 512, 1024])),
    }
    arch_keys = {'depths', 'embed_dims'}
    stem_stride = 4
    min_input_size = 4  # one node per stem patch

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 k: int = 9,
                 reduce_ratios: Sequence[int] = (4, 2, 1, 1),
                 pretrain_img_size: Union[int, Sequence[int]] = 224,
                 pretrain_pos_layout: bool = True,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 ffn_ratio: float = 4.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 out_norm_cfg: Optional[dict] = None,
                 knn_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 dense_knn: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = arch = parse_arch(type(self).__name__, arch, self.arch_zoo, self.arch_keys)
        depths, dims = arch['depths'], arch['embed_dims']
        num_stages = len(depths)
        if len(dims) != num_stages or len(reduce_ratios) != num_stages:
            raise ValueError(f'PyramidViG needs one depth, embed_dim and reduce_ratio per stage, got depths '
                             f'{depths}, embed_dims {dims}, reduce_ratios {tuple(reduce_ratios)}.')
        if k < 1 or any(r < 1 for r in reduce_ratios):
            raise ValueError(f'PyramidViG k and reduce_ratios must be >= 1, got k={k}, '
                             f'reduce_ratios={tuple(reduce_ratios)}.')
        if any(d % 4 for d in dims):
            raise ValueError(f'PyramidViG embed_dims must be divisible by 4 (2-D sin-cos relative position, '
                             f'4 conv groups), got {dims}.')
        self.in_channels = in_channels
        self.pretrain_img_size = to_2tuple(pretrain_img_size)

        strides = [self.stem_stride * 2**i for i in range(num_stages)]
        grids = [tuple(math.ceil(s / stride) for s in self.pretrain_img_size) for stride in strides]
        self.stem = ViGStem([
            ConvNorm(in_channels, dims[0] // 2, 3, stride=2, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvNorm(dims[0] // 2, dims[0], 3, stride=2, norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvNorm(dims[0], dims[0], 3, norm_cfg=norm_cfg)], dims[0], grids[0])

        max_dilation = max(1, 49 // k)  # as the official code: 49 = 7x7 nodes of the last stage at 224
        dilations = [min(i // 4 + 1, max_dilation) for i in range(sum(depths))]
        dprs = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        start = 0
        for i in range(num_stages):
            self.stages.append(ViGStage(
                dims[max(i - 1, 0)], dims[i], downsample=i > 0, ks=[k] * depths[i],
                dilations=dilations[start:start + depths[i]], drop_paths=dprs[i], with_cp=with_cp,
                norm_cfg=norm_cfg, act_cfg=act_cfg, ffn_ratio=ffn_ratio, reduce_ratio=reduce_ratios[i],
                relative_pos=True, pretrain_size=grids[i] if pretrain_pos_layout else None,
                knn_chunk_bytes=knn_chunk_bytes, dense_knn=dense_knn))
            start += depths[i]
        self._init_outputs(dims, strides, out_indices, frozen_stages, norm_eval, out_norm_cfg)


@MODELS.register_module()
class ViG(_ViGBackbone):
    """Isotropic Vision GNN: one stage of blocks at stride 16, for classification.

    Block ``i`` of ``n`` has ``int(linspace(k, 2k, n)[i])`` neighbours and dilation
    ``min(i // 4 + 1, 196 // 2k)``; no key pooling and, as in the official model, no relative-position term.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (aliases ``'t'``/``'ti'``, ``'s'``, ``'b'``) or a
            dict with the keys ``depth`` and ``embed_dim`` (divisible by 8). Defaults to ``'small'``.
        in_channels (int): Image channels. Defaults to 3.
        k (int): Neighbours of the first block (the last has ``2k``). Defaults to 9.
        relative_pos (bool): Add the relative-position term (not used by the official weights).
            Defaults to False.
        pretrain_img_size (int | tuple[int, int]): Sets the stored position embedding (``size / 16``).
            Defaults to 224.
        out_indices (int | Sequence[int]): Defaults to (0,), the only stage.
        ffn_ratio (float): Defaults to 4.
        drop_path_rate (float): Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
        out_norm_cfg (dict, optional): Defaults to None.
        knn_chunk_bytes (int): Defaults to 128 MiB.
        dense_knn (bool): Defaults to False.
        frozen_stages (int): -1 freezes nothing, 0 the stem (with the position embedding), 1 everything.
            Defaults to -1.
        norm_eval (bool): Defaults to False.
        with_cp (bool): Defaults to False.
        init_cfg (dict, optional): Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import ViG
        >>> model = ViG(arch='tiny').eval()
        >>> print(tuple(model(torch.rand(1, 3, 224, 224))[0].shape))
        (1, 192, 14, 14)
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'ti', 'tiny'], dict(depth=12, embed_dim=192)),
        **dict.fromkeys(['s', 'small'], dict(depth=16, embed_dim=320)),
        **dict.fromkeys(['b', 'base'], dict(depth=16, embed_dim=640)),
    }
    arch_keys = {'depth', 'embed_dim'}
    stem_stride = 16
    min_input_size = 16

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 k: int = 9,
                 relative_pos: bool = False,
                 pretrain_img_size: Union[int, Sequence[int]] = 224,
                 out_indices: Union[int, Sequence[int]] = (0,),
                 ffn_ratio: float = 4.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 out_norm_cfg: Optional[dict] = None,
                 knn_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 dense_knn: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = arch = parse_arch(type(self).__name__, arch, self.arch_zoo, self.arch_keys)
        depth, dim = arch['depth'], arch['embed_dim']
        if k < 1:
            raise ValueError(f'ViG k must be >= 1, got {k}.')
        if dim % 8:
            raise ValueError(f'ViG embed_dim must be divisible by 8 (stem widths dim/8, dim/4, dim/2), got {dim}.')
        self.in_channels = in_channels
        self.pretrain_img_size = to_2tuple(pretrain_img_size)

        widths = [in_channels, dim // 8, dim // 4, dim // 2, dim]
        grid = tuple(math.ceil(s / self.stem_stride) for s in self.pretrain_img_size)
        self.stem = ViGStem(
            [ConvNorm(widths[i], widths[i + 1], 3, stride=2, norm_cfg=norm_cfg, act_cfg=act_cfg) for i in range(4)]
            + [ConvNorm(dim, dim, 3, norm_cfg=norm_cfg)], dim, grid)

        ks = [int(v) for v in torch.linspace(k, 2 * k, depth).tolist()]
        max_dilation = max(1, 196 // max(ks))  # as the official code: 196 = 14x14 nodes at 224
        self.stages = nn.ModuleList([ViGStage(
            dim, dim, downsample=False, ks=ks, dilations=[min(i // 4 + 1, max_dilation) for i in range(depth)],
            drop_paths=drop_path_rates(drop_path_rate, [depth])[0], with_cp=with_cp, norm_cfg=norm_cfg,
            act_cfg=act_cfg, ffn_ratio=ffn_ratio, reduce_ratio=1, relative_pos=relative_pos,
            knn_chunk_bytes=knn_chunk_bytes, dense_knn=dense_knn)])
        self._init_outputs([dim], [self.stem_stride], out_indices, frozen_stages, norm_eval, out_norm_cfg)
