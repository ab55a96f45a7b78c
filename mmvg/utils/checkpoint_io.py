"""One contained fix for loading local checkpoints with mmengine 0.10.x on torch >= 2.6.

mmengine 0.10.7 reads local files with ``torch.load(filename, map_location=...)``. Since torch 2.6 that defaults to
``weights_only=True``, which refuses mmengine's own checkpoints (their ``meta`` holds numpy objects and a
``HistoryBuffer``) and the official research checkpoints (they pickle ``argparse.Namespace``). So ``--resume``,
``load_from`` and ``init_cfg=dict(type='Pretrained')`` with a local path all fail. mmengine's unreleased main branch
fixes this by passing ``weights_only=False`` (open-mmlab/mmengine#1670); importing :mod:`mmvg` registers a local
loader that does the same, and turns an unreadable file into an error that names it.

Loading a checkpoint executes its pickle: only load files you trust, as with torch < 2.6.
"""
import os
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint file (any pickled object, as torch < 2.6 did)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        what = 'is a directory, not a file' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(f'checkpoint file {filename} {what}')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated, not a checkpoint, wrong format
        size = os.path.getsize(filename)
        raise ValueError(f'{filename} ({size} bytes) is not a readable PyTorch checkpoint: '
                         f'{type(e).__name__}: {e}') from e
