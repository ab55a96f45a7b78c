"""Context Clusters (CoC) as a dense-prediction backbone.

Paper: Xu Ma et al., "Image as Set of Points", ICLR 2023, https://arxiv.org/abs/2303.01494.
Official code: https://github.com/ma-xu/Context-Cluster (``models/context_cluster.py``), re-written here.

What differs from the official code, and why:

- **Any input size.** The official model asserts that every stage's map divides by its fold (8, 4, 2, 1), so
  inputs must be multiples of 32 (and of 4 for the point reducer). Here the image is padded to a multiple of 4
  before the point reducer, and each context-cluster op pads its map to whole regions, masks the padding out of
  centres, assignment and aggregation, and crops back (:class:`mmvg.models.layers.Cluster`). Where sizes divide,
  the result is the official computation; stage ``i`` always has ``ceil(H / stride_i)`` rows.
- **One output contract.** ``out_indices`` are stage indices with one ``norm{i}`` (GroupNorm) each; the official
  dense model indexes a list that interleaves stages and downsamplers (``[0, 2, 4, 6]``) and switches RetinaNet's
  outputs with an environment variable (``FORK_LAST3``): use ``out_indices=(1, 2, 3)`` instead.
- **Centres per region from config.** ``proposal_size=2/5/7`` gives the paper's CoC-4/25/49 detection and
  segmentation models without a class per variant.
- **Checkpoints.** Both official layouts load with automatic conversion (:func:`mmvg.models.utils.convert_coc`):
  the current one (Linear MLP; ``token_mixer.f/v/proj``) and the old one that the COCO checkpoints still use
  (1x1-conv MLP; ``token_mixer.fc1/fc2/fc_v``; a ``fea_pos`` buffer), which the official loader rejects.
- **Lean cluster op.** Aggregation and dispatch are matrix products (no ``[B, M, N, D]`` tensor), in fp32 under AMP.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from timm.layers import DropPath, LayerScale2d

from mmvg.registry import MODELS
from ..layers import Cluster
from ..utils.ckpt_convert import convert_coc
from .base_backbone import PyramidBackbone, drop_path_rates, parse_arch, run_blocks


class ClusterMlp(nn.Module):
    """Channel MLP applied per point (Linear layers on channel-last maps, as in the current official code)."""

    def __init__(self, dim: int, hidden_dim: int, act_cfg: dict) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B, C, H, W -> B, H, W, C -> B, C, H, W
        return self.fc2(self.act(self.fc1(x.permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)


class ClusterBlock(nn.Module):
    """norm -> context cluster -> layer scale -> residual; norm -> MLP -> layer scale -> residual."""

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 head_dim: int,
                 proposal_size: Union[int, Sequence[int]],
                 fold: Union[int, Sequence[int]],
                 mlp_ratio: float,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 norm_cfg: dict = dict(type='GN', num_groups=1),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.token_mixer = Cluster(dim, num_heads=num_heads, head_dim=head_dim, proposal_size=proposal_size,
                                   fold=fold)
        self.ls1 = LayerScale2d(dim, layer_scale_init_value)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = ClusterMlp(dim, int(dim * mlp_ratio), act_cfg)
        self.ls2 = LayerScale2d(dim, layer_scale_init_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.token_mixer(self.norm1(x))))
        x = x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))
        return x


class ClusterStage(nn.Module):
    """A 3x3 stride-2 point reducer (stages after the first) followed by cluster blocks."""

    def __init__(self, in_dim: int, dim: int, depth: int, downsample: bool, with_cp: bool = False,
                 drop_paths: Sequence[float] = (), **block_kwargs) -> None:
        super().__init__()
        self.downsample = nn.Conv2d(in_dim, dim, 3, stride=2, padding=1) if downsample else nn.Identity()
        self.blocks = nn.ModuleList(
            [ClusterBlock(dim, drop_path=drop_paths[i], **block_kwargs) for i in range(depth)])
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_blocks(self.blocks, self.downsample(x), self.with_cp)


@MODELS.register_module()
class ContextCluster(PyramidBackbone):
    """Context Clusters backbone with four stages at strides 4, 8, 16 and 32.

    Args:
        arch (str | dict): ``'tiny'``, ``'tiny2'``, ``'tiny_plain'``, ``'small'``, ``'medium'``,
            ``'base_dim64'``, ``'base_dim96'`` (aliases ``'t'``, ``'s'``, ``'m'``), or a dict with the keys
            ``depths``, ``embed_dims``, ``num_heads``, ``head_dims``, ``mlp_ratios``, ``proposal_sizes``,
            ``folds`` (one entry per stage). Defaults to ``'small'``.
        proposal_size (int | Sequence[int], optional): Side of the centre grid in every region, overriding
            the arch's: 2, 5 and 7 give the paper's CoC-4, -25 and -49 detection/segmentation models. An int
            applies to all stages. Defaults to None (the arch's).
        in_channels (int): Image channels; two position channels are added. Defaults to 3.
        out_indices (int | Sequence[int]): Stage indices to return (negatives allowed). Defaults to (0, 1, 2, 3).
        drop_path_rate (float): Stochastic depth, linear over all blocks. Defaults to 0.
        layer_scale_init_value (float): Defaults to 1e-5.
        norm_cfg (dict): Norm of the blocks. Defaults to ``dict(type='GN', num_groups=1)``.
        act_cfg (dict): Activation of the MLP. Defaults to ``dict(type='GELU')``.
        out_norm_cfg (dict, optional): Norm of each output; None for none.
            Defaults to ``dict(type='GN', num_groups=1)``.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and stages 0..k-1. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads official (both layouts)
            or mmvg checkpoints. Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import ContextCluster
        >>> model = ContextCluster(arch='small', proposal_size=5).eval()
        >>> for out in model(torch.rand(1, 3, 97, 131)):
        ...     print(tuple(out.shape))
        (1, 64, 25, 33)
        (1, 128, 13, 17)
        (1, 320, 7, 9)
        (1, 512, 4, 5)
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            depths=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320], num_heads=[4, 4, 8, 8], head_dims=[24] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1])),
        'tiny2': dict(
            depths=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320], num_heads=[4, 4, 8, 8], head_dims=[24] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[4, 2, 7, 4], folds=[7, 7, 1, 1]),
        'tiny_plain': dict(
            depths=[3, 4, 5, 2], embed_dims=[32, 64, 196, 320], num_heads=[4, 4, 8, 8], head_dims=[24] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[4, 4, 2, 2], folds=[1, 1, 1, 1]),
        **dict.fromkeys(['s', 'small'], dict(
            depths=[2, 2, 6, 2], embed_dims=[64, 128, 320, 512], num_heads=[4, 4, 8, 8], head_dims=[32] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1])),
        **dict.fromkeys(['m', 'medium'], dict(
            depths=[4, 4, 12, 4], embed_dims=[64, 128, 320, 512], num_heads=[6, 6, 12, 12], head_dims=[32] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1])),
        'base_dim64': dict(
            depths=[6, 6, 24, 6], embed_dims=[64, 128, 320, 512], num_heads=[8, 8, 16, 16], head_dims=[32] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1]),
        'base_dim96': dict(
            depths=[4, 4, 12, 4], embed_dims=[96, 192, 384, 768], num_heads=[8, 8, 16, 16], head_dims=[32] * 4,
            mlp_ratios=[8, 8, 4, 4], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1]),
    }
    arch_keys = {'depths', 'embed_dims', 'num_heads', 'head_dims', 'mlp_ratios', 'proposal_sizes', 'folds'}
    min_input_size = 4
    stem_stride = 4

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 proposal_size: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-5,
                 norm_cfg: dict = dict(type='GN', num_groups=1),
                 act_cfg: dict = dict(type='GELU'),
                 out_norm_cfg: Optional[dict] = dict(type='GN', num_groups=1),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = arch = parse_arch(type(self).__name__, arch, self.arch_zoo, self.arch_keys)
        num_stages = len(arch['depths'])
        if any(len(arch[k]) != num_stages for k in self.arch_keys):
            raise ValueError(f'ContextCluster arch lists must all have {num_stages} entries: '
                             f'{ {k: len(arch[k]) for k in sorted(self.arch_keys)} }')
        if proposal_size is not None:
            arch['proposal_sizes'] = ([proposal_size] * num_stages if isinstance(proposal_size, int)
                                      else list(proposal_size))
            if len(arch['proposal_sizes']) != num_stages:
                raise ValueError(f'proposal_size must be an int or {num_stages} values, got {proposal_size!r}.')
        self.in_channels = in_channels
        dims = arch['embed_dims']

        # The point reducer sees the image and two position channels (row, column) in [-0.5, 0.5].
        self.stem = nn.Conv2d(in_channels + 2, dims[0], kernel_size=self.stem_stride, stride=self.stem_stride)
        dprs = drop_path_rates(drop_path_rate, arch['depths'])
        self.stages = nn.ModuleList()
        for i in range(num_stages):
            self.stages.append(ClusterStage(
                dims[max(i - 1, 0)], dims[i], arch['depths'][i], downsample=i > 0, with_cp=with_cp,
                drop_paths=dprs[i], num_heads=arch['num_heads'][i], head_dim=arch['head_dims'][i],
                proposal_size=arch['proposal_sizes'][i], fold=arch['folds'][i],
                mlp_ratio=arch['mlp_ratios'][i], layer_scale_init_value=layer_scale_init_value,
                norm_cfg=norm_cfg, act_cfg=act_cfg))
        strides = [self.stem_stride * 2**i for i in range(num_stages)]
        self._init_outputs(dims, strides, out_indices, frozen_stages, norm_eval, out_norm_cfg)
        self.apply(self._init_linear)

    convert_checkpoint = staticmethod(convert_coc)

    @staticmethod
    def position_channels(x: torch.Tensor) -> torch.Tensor:
        """Row and column coordinates in [-0.5, 0.5] for every pixel of ``x``: (B, 2, H, W)."""
        B, _, H, W = x.shape
        rows = torch.linspace(-0.5, 0.5, H, device=x.device, dtype=x.dtype) if H > 1 else x.new_full((1,), -.5)
        cols = torch.linspace(-0.5, 0.5, W, device=x.device, dtype=x.dtype) if W > 1 else x.new_full((1,), -.5)
        pos = torch.stack(torch.meshgrid(rows, cols, indexing='ij'))  # 2, H, W
        return pos.unsqueeze(0).expand(B, -1, -1, -1)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, self.position_channels(x)], dim=1)  # B, C+2, H, W
        s = self.stem_stride
        pad_h, pad_w = -x.shape[2] % s, -x.shape[3] % s
        if pad_h or pad_w:  # partial patches at the bottom/right, so stage 0 has ceil(H/4) rows
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.stem(x)
