"""Vision Permutator (ViP) as a backbone for any input size: the official classification variants and pyramids.

Paper: Qibin Hou et al., "Vision Permutator: A Permutable MLP-Like Architecture for Visual Recognition", TPAMI 2022,
https://arxiv.org/abs/2106.12368. Official code: https://github.com/Andrew-Qibin/VisionPermutator
(``models/vip.py``), re-written here.

What differs from the official code, and why:

- **Any input size, exact at 224.** The official height/width mixing is a ``Linear(C, C)`` over the ``H * S``
  values of a channel segment along a column (``S = C / segment_dim``), so it runs only where
  ``H = W = segment_dim`` (224 x 224) and its weights are tied to absolute rows. Here it mixes **windows of
  ``window_size`` positions along each axis** (default: ``segment_dim``, the trained length); the last window of
  an axis may be partial, which equals zero-padding it and cropping back
  (:func:`mmvg.models.layers.permute_mlp.window_mix`). At the trained grid there is one window per axis and the
  layer is the official one; elsewhere every position mixes with the (at most) ``L`` positions of its window, so
  the cost is ``C * L * S`` multiply-adds per position per axis at any size: linear in ``H * W``. ``window_size``
  is a constructor argument (an int or one per stage). Every second block of a stage offsets its windows by
  ``L / 2`` along axes longer than one window (``shift_windows``, as Swin): the windows span the same 224 pixels at
  every stage and the patch embedding and downsampling are aligned with them, so without the shift a pixel's
  spatial mixing would never leave its 224 x 224 tile. The patch embedding and the 2x2 downsampling pad the map
  to whole patches, so stage ``i`` has ``ceil(H / stride_i)`` rows.
- **Pyramid variants** (``tiny``, ``small``, ``medium``) for dense prediction: a 4x4 stride-4 patch embedding
  and four stages at strides 4, 8, 16 and 32 joined by the official 2x2 stride-2 downsampling, with ViP's blocks
  (weighted permute-MLP, channel MLP of ratio 3). Their windows are the stage grids at 224 (56, 28, 14, 7): at the
  pre-training size every mixing is global along its axis, as in the official model; at 1333 x 800 a window spans
  224 pixels at every stage. A window of ``L`` positions and ``S`` channels per segment costs ``C * L * S``
  multiply-adds per position (the official ``L * S = C``), so the pyramids take ``S = 1, 4, 16, 64``
  (``L * S = 56, 112, 224, 448``, near ``C``). Widths are PViG's; the depths ``[3, 2, n, 2]`` are the ones that
  meet both budgets of PViG-Ti/S/M: a ViP block of width ``C`` costs about ``10 C**2`` multiply-adds per position
  (PViG's about ``12 C**2`` plus the graph), so ViP takes a few more blocks, most of them in stage 2 where
  parameters and FLOPs grow together, and one more stage-0 block for FLOPs at little parameter cost.
  Classifier (backbone + 1000-class head) at 224, measured (``tests/test_vip.py::test_pyramid_budgets``,
  multiply-adds of convolutions and linear layers):

  ====== =========== ================= ============== ============= ===========
  arch   depths      channels          segments       params, GMACs PViG target
  ====== =========== ================= ============== ============= ===========
  tiny   3, 2, 10, 2 48, 96, 240, 384  48, 24, 15, 6  10.85M, 1.70G 10.7M, 1.7G
  small  3, 2, 11, 2 80, 160, 400, 640 80, 40, 25, 10 27.88M, 4.62G 27.3M, 4.6G
  medium 3, 2, 26, 2 96, 192, 384, 768 96, 48, 24, 12 51.99M, 8.94G 51.7M, 8.9G
  ====== =========== ================= ============== ============= ===========

- **Channel-last blocks in one output contract.** Blocks run on ``(B, H, W, C)`` as the official code (Linear
  layers); outputs are NCHW with an optional per-output norm (LayerNorm by default: the official final norm is the
  last stage's ``norm3``). Norms come from ``norm_cfg`` (BatchNorm is applied on the permuted map).
- **Checkpoints.** Official ImageNet weights load through ``init_cfg`` with automatic conversion
  (:func:`mmvg.models.utils.convert_vip`): ``network.{k}`` entries are split into stages and downsamplings, the
  final ``norm`` becomes ``norm3`` and the classifier mmpretrain's ``head.fc``. Inside the blocks the names are the
  official ones except ``attn`` (the permute-MLP, not an attention) -> ``mixer``.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from timm.layers import DropPath

from mmvg.registry import MODELS
from ..layers.permute_mlp import ChannelMlp, WeightedPermuteMLP
from ..utils.ckpt_convert import convert_vip
from .base_backbone import PyramidBackbone, drop_path_rates, parse_arch, run_blocks


def channel_last_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply ``norm`` to a ``(B, H, W, C)`` map: LayerNorm directly, BatchNorm / GroupNorm on the NCHW view."""
    if isinstance(norm, (nn.LayerNorm, nn.Identity)):
        return norm(x)
    return norm(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class PermutatorBlock(nn.Module):
    """norm -> weighted permute-MLP -> residual; norm -> channel MLP -> residual; residuals divided by ``skip_lam``.

    Args:
        dim (int): Channels.
        segment_dim (int): Channel segments of the permute-MLP.
        window_size (int, optional): Positions mixed along each axis. Defaults to None (``segment_dim``).
        shift (bool): Shifted windows along axes longer than one window. Defaults to False.
        mlp_ratio (float): Hidden channels of the channel MLP per channel. Defaults to 3.
        skip_lam (float): Divisor of both residual branches. Defaults to 1.
        drop_path (float): Stochastic depth. Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='LN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, dim: int, segment_dim: int, window_size: Optional[int] = None, shift: bool = False,
                 mlp_ratio: float = 3., skip_lam: float = 1., drop_path: float = 0., norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.mixer = WeightedPermuteMLP(dim, segment_dim, window_size, shift=shift, act_cfg=act_cfg)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = ChannelMlp(dim, int(dim * mlp_ratio), act_cfg=act_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.skip_lam = skip_lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B, H, W, C
        x = x + self.drop_path(self.mixer(channel_last_norm(self.norm1, x))) / self.skip_lam
        x = x + self.drop_path(self.mlp(channel_last_norm(self.norm2, x))) / self.skip_lam
        return x


class PermutatorStage(nn.Module):
    """An optional downsampling (2x2 stride 2, or 1x1 where only the width changes), then Permutator blocks.

    Args:
        in_dim (int): Input channels.
        dim (int): Channels of the blocks.
        stride (int): 2 for a 2x2 stride-2 conv; 1 for a 1x1 conv if ``in_dim != dim``, else nothing.
        drop_paths (Sequence[float]): Stochastic depth of each block; one entry per block.
        shift_windows (bool): Shifted windows in every second block. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        **block_kwargs: :class:`PermutatorBlock` arguments shared by all blocks.
    """

    def __init__(self, in_dim: int, dim: int, stride: int, drop_paths: Sequence[float], shift_windows: bool = False,
                 with_cp: bool = False, **block_kwargs) -> None:
        super().__init__()
        self.stride = stride
        self.downsample = (nn.Conv2d(in_dim, dim, kernel_size=stride, stride=stride)
                           if stride > 1 or in_dim != dim else nn.Identity())
        self.blocks = nn.ModuleList([
            PermutatorBlock(dim, drop_path=dp, shift=shift_windows and j % 2 == 1, **block_kwargs)
            for j, dp in enumerate(drop_paths)])
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B, H, W, C_in -> B, ceil(H / stride), ceil(W / stride), C
        if not isinstance(self.downsample, nn.Identity):
            x = x.permute(0, 3, 1, 2)
            pad_h, pad_w = -x.shape[2] % self.stride, -x.shape[3] % self.stride
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h))
            x = self.downsample(x).permute(0, 2, 3, 1)
        return run_blocks(self.blocks, x, self.with_cp)


@MODELS.register_module()
class VisionPermutator(PyramidBackbone):
    """Vision Permutator backbone: the official variants (strides 7/14 or 14) and pyramids (strides 4 to 32).

    Args:
        arch (str | dict): Official variants ``'s14'``, ``'s7'``, ``'m7'``, ``'l7'``; pyramid variants ``'tiny'``,
            ``'small'``, ``'medium'`` (aliases ``'t'``, ``'s'``, ``'m'``); or a dict with the keys ``depths``,
            ``embed_dims``, ``segment_dims``, ``transitions`` (one per stage; ``transitions[i]`` puts a 2x2
            stride-2 downsampling between stages ``i`` and ``i + 1``, the last entry is unused), ``patch_size``,
            and optionally ``mlp_ratios`` (default 3), ``window_sizes`` (default ``segment_dims``) and
            ``skip_lam`` (default 1). Defaults to ``'small'``.
        window_size (int | Sequence[int], optional): Positions mixed together along each axis (one int, or one
            per stage), overriding the arch's; the H/W weights are ``(L * S) x (L * S)`` with
            ``S = C / segment_dim``, so official weights need the default. Defaults to None (the arch's: the
            trained length, ``segment_dims`` for the official variants).
        shift_windows (bool): In every second block of a stage, offset the windows by half a window along axes
            longer than one window (Swin's shifted windows), so that information crosses window borders; without
            it, windows of the same pixel span at every stage (224 px for all variants) never exchange
            information except through the per-image branch weights. Axes of at most one window are never
            shifted, so the trained size is unaffected. Defaults to True.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stage indices to return (negatives allowed). Defaults to (0, 1, 2, 3).
        drop_path_rate (float): Stochastic depth, linear over all blocks. Defaults to 0.
        norm_cfg (dict): Norm of the blocks. Defaults to ``dict(type='LN')``.
        act_cfg (dict): Activation of the MLPs. Defaults to ``dict(type='GELU')``.
        out_norm_cfg (dict, optional): Norm of each output; None for none. Defaults to ``dict(type='LN')``.
        frozen_stages (int): -1 freezes nothing, 0 the patch embedding, k also stages 0..k-1. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads official or mmvg
            checkpoints. Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import VisionPermutator
        >>> model = VisionPermutator(arch='tiny').eval()
        >>> for out in model(torch.rand(1, 3, 97, 131)):
        ...     print(tuple(out.shape))
        (1, 48, 25, 33)
        (1, 96, 13, 17)
        (1, 240, 7, 9)
        (1, 384, 4, 5)
        >>> model = VisionPermutator(arch='s7', out_indices=(0, 3)).eval()  # official weights fit
        >>> [tuple(out.shape) for out in model(torch.rand(1, 3, 224, 300))]
        [(1, 192, 32, 43), (1, 384, 16, 22)]
    """
    _pyramid = dict(transitions=[True, True, True, False], patch_size=4, window_sizes=[56, 28, 14, 7])
    arch_zoo = {
        's14': dict(depths=[4, 3, 8, 3], embed_dims=[384] * 4, segment_dims=[16] * 4, transitions=[False] * 4,
                    patch_size=14),
        's7': dict(depths=[4, 3, 8, 3], embed_dims=[192, 384, 384, 384], segment_dims=[32, 16, 16, 16],
                   transitions=[True, False, False, False], patch_size=7),
        'm7': dict(depths=[4, 3, 14, 3], embed_dims=[256, 256, 512, 512], segment_dims=[32, 32, 16, 16],
                   transitions=[False, True, False, False], patch_size=7),
        'l7': dict(depths=[8, 8, 16, 4], embed_dims=[256, 512, 512, 512], segment_dims=[32, 16, 16, 16],
                   transitions=[True, False, False, False], patch_size=7),
        **dict.fromkeys(['t', 'tiny'], dict(
            depths=[3, 2, 10, 2], embed_dims=[48, 96, 240, 384], segment_dims=[48, 24, 15, 6], **_pyramid)),
        **dict.fromkeys(['s', 'small'], dict(
            depths=[3, 2, 11, 2], embed_dims=[80, 160, 400, 640], segment_dims=[80, 40, 25, 10], **_pyramid)),
        **dict.fromkeys(['m', 'medium'], dict(
            depths=[3, 2, 26, 2], embed_dims=[96, 192, 384, 768], segment_dims=[96, 48, 24, 12], **_pyramid)),
    }
    arch_keys = {'depths', 'embed_dims', 'segment_dims', 'transitions', 'patch_size'}
    optional_arch_keys = ('mlp_ratios', 'window_sizes', 'skip_lam')

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 window_size: Optional[Union[int, Sequence[int]]] = None,
                 shift_windows: bool = True,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN'),
                 act_cfg: dict = dict(type='GELU'),
                 out_norm_cfg: Optional[dict] = dict(type='LN'),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.arch_settings = arch = parse_arch(name, arch, self.arch_zoo, self.arch_keys, self.optional_arch_keys)
        depths, dims, segments = arch['depths'], arch['embed_dims'], arch['segment_dims']
        num_stages = len(depths)
        arch.setdefault('mlp_ratios', [3] * num_stages)
        arch.setdefault('window_sizes', list(segments))
        arch.setdefault('skip_lam', 1.)
        if window_size is not None:
            arch['window_sizes'] = [window_size] * num_stages if isinstance(window_size, int) else list(window_size)
        per_stage = ('embed_dims', 'segment_dims', 'transitions', 'mlp_ratios', 'window_sizes')
        if any(len(arch[k]) != num_stages for k in per_stage):
            raise ValueError(f'{name} needs one value per stage ({num_stages}) in depths and '
                             f'{", ".join(per_stage)}; got { {k: arch[k] for k in ("depths", ) + per_stage} } '
                             f'(window_size={window_size!r}).')
        if any(g < 1 or c % g for c, g in zip(dims, segments)):
            raise ValueError(f'{name} embed_dims must be divisible by segment_dims, got {dims} and {segments}.')
        if any(not isinstance(L, int) or L < 1 for L in arch['window_sizes']):
            raise ValueError(f'{name} window sizes must be ints >= 1, got {arch["window_sizes"]}.')
        patch = arch['patch_size']
        self.in_channels = in_channels
        self.min_input_size = patch  # one patch
        self.window_sizes = tuple(arch['window_sizes'])

        self.stem = nn.Conv2d(in_channels, dims[0], kernel_size=patch, stride=patch)
        strides, dprs = [patch], drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        for i in range(num_stages):
            stride = 2 if i > 0 and arch['transitions'][i - 1] else 1
            if i > 0:
                strides.append(strides[-1] * stride)
            self.stages.append(PermutatorStage(
                dims[max(i - 1, 0)], dims[i], stride, drop_paths=dprs[i], shift_windows=shift_windows, with_cp=with_cp,
                segment_dim=segments[i], window_size=arch['window_sizes'][i], mlp_ratio=arch['mlp_ratios'][i],
                skip_lam=arch['skip_lam'], norm_cfg=norm_cfg, act_cfg=act_cfg))
        self._init_outputs(dims, strides, out_indices, frozen_stages, norm_eval, out_norm_cfg)
        self.apply(self._init_linear)

    convert_checkpoint = staticmethod(convert_vip)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        # B, C, H, W -> B, ceil(H / p), ceil(W / p), C0 (channel-last)
        p = self.stem.stride[0]
        pad_h, pad_w = -x.shape[2] % p, -x.shape[3] % p
        if pad_h or pad_w:  # partial patches at the bottom/right
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.stem(x).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor):
        self._check_input(x)
        x = self.forward_stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)  # B, H_i, W_i, C_i
            if i in self.out_indices:
                out = channel_last_norm(getattr(self, f'norm{i}'), x)
                outs.append(out.permute(0, 3, 1, 2).contiguous())  # B, C_i, H_i, W_i
        return tuple(outs)
