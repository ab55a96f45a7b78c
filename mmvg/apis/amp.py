"""Mixed precision for ``tools/train.py --amp``: fp16 with loss scaling on a GPU, bf16 autocast on a CPU.

mmengine's ``AmpOptimWrapper`` refuses to start without a GPU, so on a CPU :class:`AutocastOptimWrapper` runs the
training step under ``torch.autocast('cpu', torch.bfloat16)``. Two things make that work for detection as well:

- **fp32 islands.** mmcv's compiled CPU ops (``RoIAlign``, ``NMS``, deformable convs, ...) have no bf16 kernels.
  Every module of ``mmcv.ops`` runs in fp32 with autocast off, and returns its outputs in its input's dtype.
- **fp32 heads.** bf16 keeps 8 significant bits: a box coordinate near 1000 px would be rounded to 4 px. The
  outputs of every head (a module whose class name ends in ``Head``: RPN, box, mask, decode, classification
  heads) are cast to fp32, so box decoding, NMS, losses and metrics run in fp32, as mmdet's fp16 recipe keeps them.

Convolutions and matrix products of the backbone, neck and heads run in bf16, which is several times faster than
fp32 on CPUs with native bf16 (AVX512-BF16, AMX) and slower on CPUs without it (see :func:`cpu_has_native_bf16`).
"""
import functools
from contextlib import contextmanager
from typing import Any, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch.utils._pytree import tree_leaves, tree_map_only

_PREPARED_ATTR = '_mmvg_cpu_amp_ready'


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 convolutions and matrix products natively on this CPU."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without the query
        return False


def _cast(obj: Any, dtype: torch.dtype) -> Any:
    """``obj`` with every floating-point tensor in it (tuples, lists, dicts included) cast to ``dtype``."""
    return tree_map_only(torch.Tensor, lambda t: t.to(dtype) if t.is_floating_point() else t, obj)


def _first_float_dtype(obj: Any) -> Union[torch.dtype, None]:
    return next((t.dtype for t in tree_leaves(obj) if isinstance(t, torch.Tensor) and t.is_floating_point()), None)


def _fp32_forward(forward):
    """Wrap a bound ``forward``: fp32 inputs, autocast off, outputs back in the first floating input's dtype."""

    @functools.wraps(forward)
    def wrapped(*args, **kwargs):
        dtype = _first_float_dtype((args, kwargs))
        with torch.autocast('cpu', enabled=False):
            out = forward(*_cast(args, torch.float32), **_cast(kwargs, torch.float32))
        return out if dtype in (None, torch.float32) else _cast(out, dtype)

    wrapped._mmvg_fp32_island = True
    return wrapped


def _head_outputs_to_fp32(module: nn.Module, args: Any, output: Any) -> Any:
    return _cast(output, torch.float32)


def prepare_cpu_autocast(model: nn.Module) -> nn.Module:
    """Make ``model`` train under CPU bf16 autocast: fp32 islands for mmcv ops, fp32 head outputs (idempotent).

    Outside autocast (validation, testing) both are no-ops: fp32 stays fp32.
    """
    if getattr(model, _PREPARED_ATTR, False):
        return model
    for module in model.modules():
        if type(module).__module__.startswith('mmcv.ops') and not getattr(module.forward, '_mmvg_fp32_island', 0):
            module.forward = _fp32_forward(module.forward)
        elif type(module).__name__.endswith('Head'):
            module.register_forward_hook(_head_outputs_to_fp32)
    setattr(model, _PREPARED_ATTR, True)
    return model


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """Mixed precision by autocast alone, for bfloat16 on any device, the CPU included.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU (and scales losses, which fp16 needs and bf16, with
    fp32's exponent range, does not). On a CPU the model is prepared with :func:`prepare_cpu_autocast` on its first
    step.

    Args:
        dtype (str | torch.dtype): Defaults to ``'bfloat16'``.
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        if param is not None and param.device.type == 'cpu':
            prepare_cpu_autocast(model)
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield


def enable_amp(cfg: Config) -> None:
    """Mixed precision: fp16 with dynamic loss scaling on GPU, bf16 on CPU."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'AutocastOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.dtype = 'bfloat16'
