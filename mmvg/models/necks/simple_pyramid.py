"""A simple feature pyramid from one map, for plain (isotropic) backbones such as :class:`mmvg.models.ConvMixer`.

ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones for Object Detection", ECCV 2022,
https://arxiv.org/abs/2203.16527) builds FPN's levels from the last map of a plain ViT at stride 16 with
deconvolutions and pooling. ConvMixer's stride is its patch size, 7 or 14, which no power-of-two deconvolution or
pooling turns into strides 4, 8, 16, 32. Upstream has nothing for this: mmdet ships no simple pyramid (ViTDet lives
in its ``projects/``), and mmseg's ``MultiLevelNeck`` (bilinear resizing by per-level scale factors) sits in mmseg's
registry only and samples the downscaled levels without averaging (at scale 7/32 each output reads 2x2 of
the about 4.6x4.6 input cells it covers).

:class:`SimplePyramid` therefore resamples once and averages:

1. a 1x1 conv (``in_channels -> out_channels``) at the input's stride ``p``;
2. bilinear resizing by exactly ``p / s0`` to the finest stride ``s0`` (``align_corners=False`` with the scale
   given, so output cell ``i`` is centred on pixel ``(i + 0.5) * s0``, as input cell ``j`` is on ``(j + 0.5) * p``);
3. 2x2 average pooling (``ceil_mode``) for each following level, which keeps the centres on each stride's grid;
4. a 3x3 conv per level.

With ``out_strides=(4, 8, 16, 32, 64)`` it replaces FPN in a Mask R-CNN (the RPN's five levels), with
``(4, 8, 16, 32)`` in a Semantic FPN.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmvg.registry import MODELS


@MODELS.register_module()
class SimplePyramid(BaseModule):
    """Multi-scale maps at ``out_strides`` from one map at stride ``in_stride`` (see the module docstring).

    Args:
        in_channels (int | Sequence[int]): Channels of the one input map; a one-element list as the backbone's
            ``out_channels`` is accepted.
        out_channels (int): Channels of every level.
        in_stride (int): Stride of the input map (the backbone's ``out_strides[-1]``, e.g. 7 or 14); at least
            ``out_strides[0]``.
        out_strides (Sequence[int]): Strides of the levels, each twice the previous. Defaults to (4, 8, 16, 32).
        norm_cfg (dict, optional): Norm after every conv. Defaults to None (as FPN).
        act_cfg (dict, optional): Activation after every conv. Defaults to None (as FPN).
        init_cfg (dict | list[dict], optional): Defaults to Xavier-uniform convs (as FPN).

    Examples:
        >>> import torch
        >>> from mmvg.models.necks import SimplePyramid
        >>> neck = SimplePyramid([1536], 256, in_stride=7, out_strides=(4, 8, 16, 32, 64))
        >>> for out in neck((torch.rand(1, 1536, 115, 191), )):  # ConvMixer-1536/20 at 800x1333
        ...     print(tuple(out.shape))
        (1, 256, 201, 334)
        (1, 256, 101, 167)
        (1, 256, 51, 84)
        (1, 256, 26, 42)
        (1, 256, 13, 21)
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 out_channels: int,
                 in_stride: int,
                 out_strides: Sequence[int] = (4, 8, 16, 32),
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Xavier', layer='Conv2d', distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int):
            if len(in_channels) != 1:
                raise ValueError(f'SimplePyramid builds the pyramid from one map: in_channels must be an int or '
                                 f'one value, got {in_channels!r} (set the backbone\'s out_indices to one stage).')
            in_channels = in_channels[0]
        out_strides = tuple(out_strides)
        if not out_strides or any(b != 2 * a for a, b in zip(out_strides, out_strides[1:])):
            raise ValueError(f'SimplePyramid out_strides must each be twice the previous, got {out_strides}.')
        if in_stride < out_strides[0]:
            raise ValueError(f'SimplePyramid in_stride ({in_stride}) must be at least the finest out stride '
                             f'({out_strides[0]}): the pyramid is made by upsampling once, then pooling.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_stride = in_stride
        self.out_strides = out_strides
        self.lateral_conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.convs = nn.ModuleList([
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for _ in out_strides])

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != 1:
            raise ValueError(f'SimplePyramid expects one input map, got {len(inputs)}: set the backbone\'s '
                             f'out_indices to one stage.')
        x = self.lateral_conv(inputs[0])  # B, C', h, w at stride p
        if self.in_stride != self.out_strides[0]:
            # B, C', floor(h * p / s0), floor(w * p / s0); cell centres on (i + 0.5) * s0
            x = F.interpolate(x, scale_factor=self.in_stride / self.out_strides[0], mode='bilinear',
                              align_corners=False)
        outs = []
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = F.avg_pool2d(x, 2, ceil_mode=True)  # B, C', ceil(h_i / 2), ceil(w_i / 2)
            outs.append(conv(x))
        return tuple(outs)
