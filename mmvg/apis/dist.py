"""Distributed training and testing on machines without a GPU (``tools/dist_train.sh CONFIG 2`` on a CPU).

mmengine 0.10.7 assumes one GPU per process: its ``init_dist`` calls ``torch.cuda.set_device(local_rank)``, and
its runner wraps the model with ``device_ids=[local_rank]``; both fail without CUDA. :func:`setup_cpu_distributed`
starts the process group with gloo before the runner does (the runner then keeps it) and wraps the model without
device ids. With CUDA, or without a launcher, nothing changes.
"""
import datetime

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel


def setup_cpu_distributed(cfg: Config) -> bool:
    """Start a gloo process group for a ``--launcher pytorch`` run on a machine without CUDA.

    Args:
        cfg (Config): The run's config, with ``launcher`` set; its ``model_wrapper_cfg`` is updated.

    Returns:
        bool: Whether the group was started here.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return False
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg', {}), backend='gloo')
    kwargs = {}
    if 'timeout' in dist_cfg:  # seconds, as in mmengine's init_dist
        kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    dist.init_process_group(backend='gloo', **kwargs)  # rank and world size from torchrun's environment
    env_cfg['dist_cfg'] = dist_cfg  # what the runner logs
    cfg.env_cfg = env_cfg

    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = MODEL_WRAPPERS.get(wrapper.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type, DistributedDataParallel):
        wrapper['device_ids'] = None  # a CPU module takes no device ids
    cfg.model_wrapper_cfg = wrapper
    return True
