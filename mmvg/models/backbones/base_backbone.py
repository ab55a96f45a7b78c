"""The output contract that every mmvg backbone follows.

A backbone builds ``self.stem`` and ``self.stages`` (an ``nn.ModuleList`` whose stage ``i`` starts with its own
downsampling) and calls :meth:`PyramidBackbone._init_outputs`. It then gets, with one meaning for all families:

- ``out_indices``: stage indices (negatives allowed), outputs in stage order, one ``norm{i}`` per output;
- ``out_channels`` / ``out_strides``: channels and strides of the returned maps;
- ``frozen_stages``: -1 freezes nothing, 0 the stem, k the stem and stages ``0..k-1`` (and their output norms);
- ``norm_eval``: BatchNorm layers stay in eval mode while training;
- ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=None)``: loads official, mmpretrain, timm or mmvg
  checkpoints through the family's ``convert_checkpoint`` and logs every missing or unexpected key.
"""
import copy
from typing import Dict, Iterable, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from timm.layers import trunc_normal_
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.checkpoint import load_pretrained


def parse_arch(cls_name: str, arch: Union[str, dict], arch_zoo: Dict[str, dict], required: Set[str],
               optional: Iterable[str] = ()) -> dict:
    """Return a copy of the arch settings named by ``arch`` or given as a dict, checked for its keys."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'Unknown {cls_name} arch {arch!r}. Choose one of {sorted(arch_zoo)} '
                             f'or pass a dict with the keys {sorted(required)}.')
        return copy.deepcopy(arch_zoo[key])
    if isinstance(arch, dict):
        missing = set(required) - set(arch)
        unknown = set(arch) - set(required) - set(optional)
        if missing or unknown:
            raise ValueError(f'{cls_name} arch dict is wrong: missing keys {sorted(missing)}, unknown keys '
                             f'{sorted(unknown)}. Required keys: {sorted(required)}; optional: {sorted(optional)}.')
        return copy.deepcopy(arch)
    raise TypeError(f'{cls_name} arch must be a name or a dict, got {type(arch).__name__}.')


def normalize_out_indices(out_indices: Union[int, Sequence[int]], num_stages: int) -> Tuple[int, ...]:
    """Stage indices, negatives allowed, returned sorted and non-negative."""
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    if not isinstance(out_indices, Sequence) or len(out_indices) == 0:
        raise ValueError(f'out_indices must be an int or a non-empty sequence of ints, got {out_indices!r}.')
    result = []
    for idx in out_indices:
        if not isinstance(idx, int) or not -num_stages <= idx < num_stages:
            raise ValueError(f'out_indices {tuple(out_indices)} are invalid: each must be a stage index in '
                             f'[{-num_stages}, {num_stages - 1}].')
        result.append(idx % num_stages)
    if len(set(result)) != len(result):
        raise ValueError(f'out_indices {tuple(out_indices)} name the same stage twice.')
    return tuple(sorted(result))


class PyramidBackbone(BaseModule):
    """Base class implementing mmvg's backbone output contract (see the module docstring)."""

    #: Channels of the input image.
    in_channels: int = 3
    #: Smallest input height and width the network accepts.
    min_input_size: int = 1

    @staticmethod
    def _init_linear(m: nn.Module) -> None:
        """timm's initialisation of Linear layers (truncated normal, std 0.02; zero bias), for ``self.apply``."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def _init_outputs(self,
                      stage_channels: Sequence[int],
                      stage_strides: Sequence[int],
                      out_indices: Union[int, Sequence[int]],
                      frozen_stages: int,
                      norm_eval: bool,
                      out_norm_cfg: Optional[dict]) -> None:
        num_stages = len(stage_channels)
        self.num_stages = num_stages
        self.out_indices = normalize_out_indices(out_indices, num_stages)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.out_strides = tuple(stage_strides[i] for i in self.out_indices)
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be an int in [-1, {num_stages}], got {frozen_stages!r}.')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        for i in self.out_indices:
            norm = build_norm_layer(out_norm_cfg, stage_channels[i])[1] if out_norm_cfg else nn.Identity()
            self.add_module(f'norm{i}', norm)
        self._freeze_stages()

    # -- checkpoints ---------------------------------------------------------------------------------------------
    @staticmethod
    def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Convert a foreign state dict to mmvg's layout. Families override this."""
        return state_dict

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained(self, self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix'),
                            converter=self.convert_checkpoint)
            self._is_init = True
            return
        super().init_weights()

    # -- input checks ----------------------------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f'{type(self).__name__} expects a 4-D tensor (B, C, H, W), got {shape}.')
        if not x.is_floating_point():
            raise ValueError(f'{type(self).__name__} expects a floating-point tensor, got {x.dtype}: convert images '
                             f'with .float() and normalise them (a data preprocessor does this in a config).')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects {self.in_channels} input channels, '
                             f'got {x.shape[1]} (input shape {tuple(x.shape)}).')
        h, w = x.shape[-2:]
        if h < self.min_input_size or w < self.min_input_size:
            raise ValueError(f'{type(self).__name__} needs inputs of at least {self.min_input_size}x'
                             f'{self.min_input_size} pixels, got {h}x{w}.')

    # -- freezing ------------------------------------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        frozen = [self.stem] if self.frozen_stages >= 0 else []
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f'norm{i}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # -- forward -------------------------------------------------------------------------------------------------
    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        x = self.forward_stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor, with_cp: bool) -> torch.Tensor:
    """Run blocks in order, each under gradient checkpointing when ``with_cp`` and gradients are needed."""
    for block in blocks:
        if with_cp and x.requires_grad:
            x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
        else:
            x = block(x)
    return x


def drop_path_rates(drop_path_rate: float, depths: Sequence[int]) -> Sequence[Sequence[float]]:
    """Stochastic-depth rates spread linearly over all blocks, split per stage."""
    rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
    out, start = [], 0
    for d in depths:
        out.append(rates[start:start + d])
        start += d
    return out


__all__ = ['PyramidBackbone', 'parse_arch', 'normalize_out_indices', 'run_blocks', 'drop_path_rates']
