"""ConvMixer as a dense-prediction backbone: the official isotropic models, and a pyramid ConvMixer.

Paper: Asher Trockman and J. Zico Kolter, "Patches Are All You Need?", 2022, https://arxiv.org/abs/2201.09792.
Official code: https://github.com/locuslab/convmixer (``convmixer.py``), re-written here.

A ConvMixer embeds ``p x p`` patches with a stride-``p`` conv (then activation, BN) and repeats one block: a
depthwise ``k x k`` conv (activation, BN) inside a residual connection, then a pointwise conv (activation, BN).

- :class:`ConvMixer` is the official isotropic model (1536/20, 768/32, 1024/20): every block runs at stride ``p``
  and full width. Its blocks are split into four depth groups, the "stages" of the output contract, so
  ``out_indices`` and ``frozen_stages`` mean what they mean for every mmvg backbone; all outputs have stride ``p``.
  Dense prediction builds a pyramid from the last map with :class:`mmvg.models.necks.SimplePyramid`, as ViTDet
  does for a plain ViT.
- :class:`PyramidConvMixer` keeps the block and builds the usual four-stage pyramid: a ``4 x 4`` patch stem, then
  ``2 x 2`` stride-2 patch embeddings (conv, activation, BN, the ConvMixer stem at patch 2) between stages, at
  strides 4, 8, 16, 32. Its archs are sized to Pyramid ViG's parameter and FLOP budgets (see the class).

What differs from the official code, and why:

- **Any input size.** The official patch embedding has no padding, so the ``H mod p`` last rows are dropped.
  Here the input is zero-padded at the bottom/right to a multiple of ``p`` (of 2 for the pyramid's downsampling),
  so the output has ``ceil(H / stride)`` rows like every mmvg backbone; sizes that divide (224 for p = 7 and 14)
  give the official computation exactly. ``padding=k // 2`` is PyTorch's ``'same'`` for the odd kernels used.
- **Named layers instead of nested Sequentials.** The block's layers are ``dwconv, act1, norm1, pwconv, act2,
  norm2``; the official, timm and mmpretrain layouts are converted on load
  (:func:`mmvg.models.utils.convert_convmixer`, strictly: no key is left over).
- **Stochastic depth** on the residual branch (``drop_path_rate``, 0 by default, as the authors trained), and
  gradient checkpointing per block (``with_cp``).
- **The activation belongs to the arch.** ``arch='768/32'`` uses ReLU, as its released weights do (the official
  ``convmixer.py`` hard-codes GELU; its README warns about this).
- **A faster inference path, the same function.** When no autograd graph is needed (``torch.no_grad()``,
  ``torch.inference_mode()``, frozen stages) and every module is in eval mode, the stem and the stages run on
  channels-last maps (B, H, W, C): the stem's patches and the pointwise conv are matrix products over the
  channel axis, the depthwise conv gets channels-last memory (oneDNN then reorders no activations), and
  activation, BatchNorm and the residual addition run in place; from a stage's second block on, the block's input
  buffer receives its output. Eval-mode BatchNorm is the affine map ``x * scale + shift`` with
  ``scale = w / sqrt(var + eps)`` and ``shift = b - mean * scale``, computed from the current parameters and
  running statistics on every call, so nothing can go stale. Results differ from the module path only by float
  rounding (about 1e-7 here). Training, autocast, tracing, forward hooks and norms other than BatchNorm take the
  module path, unchanged. BatchNorm is not folded into conv weights: it follows the activation, the depthwise conv
  after it zero-pads (a folded shift would be wrong at the borders), and folded copies of weights can go stale
  (mmengine's EMA writes through ``.data``). Outputs are contiguous NCHW tensors on both paths.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from timm.layers import DropPath
from torch.nn.modules import module as module_hooks
from torch.nn.modules.batchnorm import _BatchNorm

from mmvg.registry import MODELS
from ..utils.ckpt_convert import convert_convmixer, convmixer_stage_depths
from .base_backbone import PyramidBackbone, drop_path_rates, parse_arch, run_blocks


_is_compiling = getattr(getattr(torch, 'compiler', None), 'is_compiling', lambda: False)  # torch >= 2.3


def _autocasts(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled() if device_type == 'cpu' else torch.is_autocast_enabled()


def _runs_inference_path(module: nn.Module, x: torch.Tensor, norms: Sequence[nn.Module]) -> bool:
    """Whether ``module`` may run its channels-last in-place path on ``x``: no autograd graph is needed, nothing
    autocasts, traces, compiles or hooks its modules, all of them are in eval mode, and each of ``norms`` is a
    standard BatchNorm with running statistics (an affine map per channel in eval mode)."""
    if (torch.jit.is_tracing() or _is_compiling() or _autocasts(x.device.type)
            or getattr(module_hooks, '_global_forward_hooks', None)
            or getattr(module_hooks, '_global_forward_pre_hooks', None)):
        return False
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters())):
        return False
    if any(m.training or m._forward_hooks or m._forward_pre_hooks for m in module.modules()):
        return False
    return all(isinstance(n, _BatchNorm) and type(n).forward in (_BatchNorm.forward, nn.SyncBatchNorm.forward)
               and n.running_mean is not None for n in norms)


def _act_(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act`` on a channels-last map (B, H, W, C), in place for GELU and ReLU; other activations see NCHW."""
    if type(act) is nn.GELU:
        return torch.ops.aten.gelu_(x, approximate=act.approximate)
    if type(act) is nn.ReLU:
        return x.relu_()
    return act(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def _batch_norm_(norm: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode BatchNorm of a channels-last map (B, H, W, C), in place: ``x * scale + shift`` per channel."""
    scale = norm.running_var.add(norm.eps).rsqrt_()
    if norm.weight is not None:
        scale = scale.mul_(norm.weight)
    bias = norm.bias if norm.bias is not None else torch.zeros_like(scale)
    return torch.addcmul(torch.addcmul(bias, norm.running_mean, scale, value=-1), x, scale, out=x)


class PatchEmbed(nn.Sequential):
    """ConvMixer's patch embedding: a ``p x p`` conv with stride ``p``, activation, norm.

    The input is zero-padded at the bottom/right to a multiple of ``p``, so ``H`` rows give ``ceil(H / p)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        patch_size (int): Patch side and stride ``p``.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, in_channels: int, out_channels: int, patch_size: int, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        # indices 0 and 2 are the official / timm stem's
        super().__init__(
            nn.Conv2d(in_channels, out_channels, patch_size, stride=patch_size),
            build_activation_layer(act_cfg),
            build_norm_layer(norm_cfg, out_channels)[1])
        self.patch_size = patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        pad_h, pad_w = -x.shape[2] % p, -x.shape[3] % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))  # B, C, p * ceil(H / p), p * ceil(W / p)
        if _runs_inference_path(self, x, norms=[self[2]]):
            conv = self[0]
            if x.is_contiguous():  # patches as rows of a matrix, each in the weight's (C, p, p) order
                b, c, h, w = x.shape
                x = x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, h // p, w // p, -1)
                x = F.linear(x, conv.weight.flatten(1), conv.bias)  # B, H', W', C'
            else:  # a channels-last map (a previous stage's): the conv keeps channels-last memory
                x = conv(x).permute(0, 2, 3, 1).contiguous()  # B, H', W', C'
            return _batch_norm_(self[2], _act_(self[1], x)).permute(0, 3, 1, 2)  # B, C', H', W' channels-last
        return super().forward(x.contiguous())  # B, C', ceil(H / p), ceil(W / p)


class ConvMixerBlock(nn.Module):
    """``x + BN(act(dwconv_k(x)))``, then ``BN(act(pwconv(.)))``.

    Args:
        channels (int): Channels.
        kernel_size (int): Side of the depthwise kernel; odd, so that the map keeps its size.
        drop_path (float): Stochastic depth of the residual branch. Defaults to 0.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, channels: int, kernel_size: int, drop_path: float = 0., norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.act1 = build_activation_layer(act_cfg)
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.pwconv = nn.Conv2d(channels, channels, 1)
        self.act2 = build_activation_layer(act_cfg)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.norm1(self.act1(self.dwconv(x))))  # B, C, H, W
        return self.norm2(self.act2(self.pwconv(x)))

    def forward_inference(self, x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The same function in eval mode without autograd (what :func:`_runs_inference_path` admits), on
        contiguous channels-last maps (B, H, W, C), in place after each conv.

        Args:
            x (Tensor): B, H, W, C, contiguous.
            out (Tensor, optional): Where the result goes: ``x`` itself when the caller no longer needs it, or
                None for a new tensor. Defaults to None.
        """
        y = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # B, H, W, C: channels-last in and out
        y = _batch_norm_(self.norm1, _act_(self.act1, y)).add_(x)
        out = torch.empty_like(x) if out is None else out
        c = x.shape[-1]
        # the 1 x 1 conv: one matrix product over the channel axis, B * H * W rows
        torch.addmm(self.pwconv.bias, y.reshape(-1, c), self.pwconv.weight.view(c, c).t(), out=out.view(-1, c))
        return _batch_norm_(self.norm2, _act_(self.act2, out))


class ConvMixerStage(nn.Module):
    """An optional patch embedding (downsampling), then ConvMixer blocks.

    Args:
        in_channels (int): Input channels.
        channels (int): Channels of the blocks.
        depth (int): Number of blocks.
        kernel_size (int): Depthwise kernel side.
        downsample (int): Patch side of the leading :class:`PatchEmbed`; 1 for none.
        drop_paths (Sequence[float]): Stochastic depth of each block.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        norm_cfg (dict): Defaults to ``dict(type='BN')``.
        act_cfg (dict): Defaults to ``dict(type='GELU')``.
    """

    def __init__(self, in_channels: int, channels: int, depth: int, kernel_size: int, downsample: int,
                 drop_paths: Sequence[float], with_cp: bool = False, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU')) -> None:
        super().__init__()
        self.downsample = (PatchEmbed(in_channels, channels, downsample, norm_cfg, act_cfg) if downsample > 1
                           else nn.Identity())
        self.blocks = nn.ModuleList([
            ConvMixerBlock(channels, kernel_size, drop_paths[i], norm_cfg, act_cfg) for i in range(depth)])
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _runs_inference_path(self, x, norms=[n for b in self.blocks for n in (b.norm1, b.norm2)]):
            x = self.downsample(x).permute(0, 2, 3, 1).contiguous()  # B, H, W, C (no copy after a stage or stem)
            for i, block in enumerate(self.blocks):
                # from the second block on, the input is this stage's own buffer and takes the block's output
                x = block.forward_inference(x, out=x if i else None)
            return x.permute(0, 3, 1, 2)  # B, C, H, W in channels-last memory
        return run_blocks(self.blocks, self.downsample(x.contiguous()), self.with_cp)


def _check_kernel(cls_name: str, kernel_size: int) -> None:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'{cls_name} kernel_size must be an odd positive int (the map keeps its size), '
                         f'got {kernel_size!r}.')


class _ConvMixerBackbone(PyramidBackbone):
    """What both ConvMixers share: their checkpoint converter, contiguous outputs after the inference path."""

    convert_checkpoint = staticmethod(convert_convmixer)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # the inference path hands channels-last maps from stage to stage; the outputs are contiguous NCHW
        return tuple(out.contiguous() for out in super().forward(x))


@MODELS.register_module()
class ConvMixer(_ConvMixerBackbone):
    """The official isotropic ConvMixer: one stride ``p``, full width in every block.

    The ``depth`` blocks form four stages of equal depth (earlier stages take the remainder), so that
    ``out_indices`` and ``frozen_stages`` follow mmvg's contract; every output has stride ``p``. For dense
    prediction take the last map (``out_indices=-1``) into :class:`mmvg.models.necks.SimplePyramid`. Inputs need
    at least one whole patch (``p x p`` pixels); larger ones of any size are padded to whole patches.

    Args:
        arch (str | dict): ``'1536/20'`` (k 9, p 7, GELU), ``'768/32'`` (k 7, p 7, ReLU), ``'1024/20'`` (k 9,
            p 14, GELU), also spelt with ``_``, or a dict with the keys ``embed_dim``, ``depth`` (>= 4),
            ``kernel_size`` (odd), ``patch_size`` and optionally ``act_cfg``. Defaults to ``'1536/20'``.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Stage (depth group) indices to return, negatives allowed; ``-1`` (the
            last map) for classification and :class:`SimplePyramid`. Defaults to (0, 1, 2, 3).
        drop_path_rate (float): Stochastic depth, linear over all blocks. Defaults to 0.
        norm_cfg (dict): Norm after every conv. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after every conv; None for the arch's (GELU unless the arch says
            otherwise). Defaults to None.
        out_norm_cfg (dict, optional): Norm of each output; None for none (the blocks end with BN).
            Defaults to None.
        frozen_stages (int): -1 freezes nothing, 0 the patch embedding, k also stages 0..k-1. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads the authors', timm's,
            mmpretrain's or mmvg's checkpoints. Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import ConvMixer
        >>> model = ConvMixer(arch='1024/20', out_indices=(1, 3)).eval()
        >>> for out in model(torch.rand(1, 3, 97, 131)):
        ...     print(tuple(out.shape))
        (1, 1024, 7, 10)
        (1, 1024, 7, 10)
    """
    arch_zoo = {
        **dict.fromkeys(['1536/20', '1536_20'], dict(embed_dim=1536, depth=20, kernel_size=9, patch_size=7)),
        **dict.fromkeys(['768/32', '768_32'], dict(embed_dim=768, depth=32, kernel_size=7, patch_size=7,
                                                   act_cfg=dict(type='ReLU'))),
        **dict.fromkeys(['1024/20', '1024_20'], dict(embed_dim=1024, depth=20, kernel_size=9, patch_size=14)),
    }
    arch_keys = {'embed_dim', 'depth', 'kernel_size', 'patch_size'}
    num_stages = 4

    def __init__(self,
                 arch: Union[str, dict] = '1536/20',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = None,
                 out_norm_cfg: Optional[dict] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.arch_settings = arch = parse_arch(name, arch, self.arch_zoo, self.arch_keys, optional=['act_cfg'])
        dim, depth, k, p = arch['embed_dim'], arch['depth'], arch['kernel_size'], arch['patch_size']
        _check_kernel(name, k)
        if not isinstance(p, int) or p < 1:
            raise ValueError(f'{name} patch_size must be a positive int, got {p!r}.')
        if not isinstance(depth, int) or depth < self.num_stages:
            raise ValueError(f'{name} depth must be an int >= {self.num_stages} (the blocks form '
                             f'{self.num_stages} stages), got {depth!r}.')
        act_cfg = act_cfg or arch.get('act_cfg', dict(type='GELU'))
        self.in_channels = in_channels
        self.min_input_size = p  # one whole patch

        self.stem = PatchEmbed(in_channels, dim, p, norm_cfg, act_cfg)  # B, dim, ceil(H / p), ceil(W / p)
        depths = convmixer_stage_depths(depth, self.num_stages)
        dprs = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            ConvMixerStage(dim, dim, depths[i], k, downsample=1, drop_paths=dprs[i], with_cp=with_cp,
                           norm_cfg=norm_cfg, act_cfg=act_cfg) for i in range(self.num_stages)])
        self._init_outputs([dim] * self.num_stages, [p] * self.num_stages, out_indices, frozen_stages,
                           norm_eval, out_norm_cfg)


@MODELS.register_module()
class PyramidConvMixer(_ConvMixerBackbone):
    """ConvMixer blocks in four stages at strides 4, 8, 16 and 32.

    A ``4 x 4`` patch embedding (conv, activation, BN) makes stage 0; every later stage starts with a ``2 x 2``
    stride-2 patch embedding. Each block is ConvMixer's: depthwise ``k x k`` conv, activation, BN inside the
    residual, then pointwise conv, activation, BN.

    The archs match Pyramid ViG's budgets: parameters and FLOPs of the ImageNet classifier (backbone, global
    pooling, 1000-class Linear) at 224x224, measured with ``mmengine.analysis.get_model_complexity_info`` (its
    fvcore convention: one per multiply-accumulate of convs and Linear, two per element of BN):

    ======  ==============  ==========================  ===============  ===============
    arch    depths          embed_dims                  params (target)  FLOPs (target)
    ======  ==============  ==========================  ===============  ===============
    tiny    [3, 3, 14, 2]   [128, 256, 512, 1024]       10.70M (10.7M)   1.74G (1.7G)
    small   [3, 3, 21, 2]   [192, 384, 768, 1536]       27.23M (27.3M)   4.59G (4.6G)
    medium  [3, 3, 25, 2]   [256, 512, 1024, 2048]      51.45M (51.7M)   8.81G (8.9G)
    ======  ==============  ==========================  ===============  ===============

    Why these shapes: a ConvMixer block holds about ``C^2`` weights (one pointwise conv, no expansion), against
    about ``9 C^2`` for a PViG block (4x FFN, graph conv 2C -> 2C), so the budgets take wider and deeper stages
    than PViG's. The two budgets fix how many weights there are and where they sit: a weight of stage ``i`` costs
    one multiply-accumulate per position, 3136 in stage 0, 784, 196 and 49 in stage 3 at 224, and PViG spends
    160 to 170 FLOPs per parameter. The widths double per stage from 128 / 192 / 256 (Swin's and ConvNeXt's
    1:2:4:8), the first two stages keep 3 blocks and the last 2, and only the third stage's depth grows (14 / 21 /
    25): that is where the budgets balance, and where the model resembles the official ones (20 to 32 blocks at
    one stride; ConvMixer-1024/20 runs at stride 14). ``kernel_size=9`` is ConvMixer-1536/20's.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'`` (aliases ``'t'``, ``'s'``, ``'m'``) or a dict with
            the keys ``depths`` and ``embed_dims`` (one entry per stage). Defaults to ``'small'``.
        in_channels (int): Image channels. Defaults to 3.
        kernel_size (int): Depthwise kernel side, odd. Defaults to 9.
        out_indices (int | Sequence[int]): Stage indices to return (negatives allowed). Defaults to (0, 1, 2, 3).
        drop_path_rate (float): Stochastic depth, linear over all blocks. Defaults to 0.
        norm_cfg (dict): Norm after every conv; ``dict(type='SyncBN')`` for multi-GPU training.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation after every conv. Defaults to ``dict(type='GELU')``.
        out_norm_cfg (dict, optional): Norm of each output; None for none (the blocks end with BN).
            Defaults to None.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k also stages 0..k-1. Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads mmvg checkpoints (e.g. an
            mmpretrain classifier trained with ``configs/convmixer/pyramid_convmixer_*_in1k.py``). Defaults to None.

    Examples:
        >>> import torch
        >>> from mmvg.models import PyramidConvMixer
        >>> model = PyramidConvMixer(arch='tiny').eval()
        >>> for out in model(torch.rand(1, 3, 97, 131)):
        ...     print(tuple(out.shape))
        (1, 128, 25, 33)
        (1, 256, 13, 17)
        (1, 512, 7, 9)
        (1, 1024, 4, 5)
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(depths=[3, 3, 14, 2], embed_dims=[128, 256, 512, 1024])),
        **dict.fromkeys(['s', 'small'], dict(depths=[3, 3, 21, 2], embed_dims=[192, 384, 768, 1536])),
        **dict.fromkeys(['m', 'medium'], dict(depths=[3, 3, 25, 2], embed_dims=[256, 512, 1024, 2048])),
    }
    arch_keys = {'depths', 'embed_dims'}
    stem_stride = 4
    min_input_size = 4  # one stem patch

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 kernel_size: int = 9,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 out_norm_cfg: Optional[dict] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.arch_settings = arch = parse_arch(name, arch, self.arch_zoo, self.arch_keys)
        depths, dims = arch['depths'], arch['embed_dims']
        num_stages = len(depths)
        if len(dims) != num_stages or any(d < 1 for d in depths):
            raise ValueError(f'{name} needs one depth (>= 1) and one embed_dim per stage, got depths {depths}, '
                             f'embed_dims {dims}.')
        _check_kernel(name, kernel_size)
        self.in_channels = in_channels

        self.stem = PatchEmbed(in_channels, dims[0], self.stem_stride, norm_cfg, act_cfg)  # B, C0, H/4, W/4
        dprs = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            ConvMixerStage(dims[max(i - 1, 0)], dims[i], depths[i], kernel_size, downsample=2 if i > 0 else 1,
                           drop_paths=dprs[i], with_cp=with_cp, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for i in range(num_stages)])
        strides = [self.stem_stride * 2**i for i in range(num_stages)]
        self._init_outputs(dims, strides, out_indices, frozen_stages, norm_eval, out_norm_cfg)
