"""The demo: any mmdet / mmseg / mmpretrain config trained on the generated shapes data with a CPU-sized schedule.

``tools/train.py CONFIG --demo`` keeps the config's model (backbone, neck, heads) and replaces what needs real data
or GPUs: the data sets (generated on first use, see :mod:`mmvg.datasets.shapes`), the number of classes, the
schedule and the optimizer. The task's overrides are plain config files, ``configs/_base_/demo/{det,seg,cls}.py``.
Pre-trained backbone weights are not used (none can be downloaded here): the demo trains from scratch. A demo file
may set ``bf16_autocast_on_cpu = True`` (the detection demo does): without CUDA, on a CPU that computes bf16
natively, training then runs under bf16 autocast as with ``--amp`` (:mod:`mmvg.apis.amp`), and in fp32 elsewhere;
validation stays fp32.
"""
import os.path as osp
from pathlib import Path

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log

from .amp import cpu_has_native_bf16, enable_amp

DEMO_CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'demo'
TASKS = {'mmdet': 'det', 'mmseg': 'seg', 'mmpretrain': 'cls'}
# keys of the demo files that steer apply_demo instead of being merged into the config
_DEMO_KEYS = ('shapes_root', 'shapes_kwargs', 'recursive_model_overrides', 'model_overrides_if_present',
              'model_overrides_by_type', 'model_keys_to_drop', 'bf16_autocast_on_cpu')


def _task(cfg: Config) -> str:
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(f'--demo supports configs whose default_scope is one of {sorted(TASKS)}, got {scope!r}')
    return TASKS[scope]


def _set_recursive(node, key: str, value) -> int:
    """Set ``key`` to ``value`` in every dict below ``node`` that has it; return how many were set."""
    count = 0
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                node[k] = value
                count += 1
            else:
                count += _set_recursive(v, key, value)
    elif isinstance(node, (list, tuple)):
        for v in node:
            count += _set_recursive(v, key, value)
    return count


def _update_by_type(node, overrides: dict) -> None:
    """Update every dict below ``node`` whose ``type`` is a key of ``overrides`` with that key's settings."""
    if isinstance(node, dict):
        if node.get('type') in overrides:
            node.update(overrides[node['type']])
        for v in node.values():
            _update_by_type(v, overrides)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _update_by_type(v, overrides)


def apply_demo(cfg: Config, **shapes_kwargs) -> Config:
    """Return ``cfg`` switched to the shapes data with the demo schedule (the data is generated if needed).

    Args:
        cfg (Config): An mmdet, mmseg or mmpretrain config.
        **shapes_kwargs: Override the demo file's ``shapes_kwargs`` (e.g. ``num_train=8`` in tests).
    """
    from mmvg.datasets.shapes import generate_shapes

    task = _task(cfg)
    demo_file = DEMO_CONFIGS / f'{task}.py'
    if not demo_file.is_file():
        raise FileNotFoundError(f'demo overrides {demo_file} are missing: run the demo from an mmvg checkout')
    demo = Config.fromfile(str(demo_file))
    generate_shapes(root=demo.shapes_root, tasks=(task, ), **{**demo.shapes_kwargs, **shapes_kwargs})

    backbone = cfg.model.get('backbone', {})
    if backbone.get('init_cfg'):
        print_log(f'demo: the backbone starts from scratch (init_cfg {backbone.init_cfg} is not used)',
                  logger='current')
        backbone.init_cfg = None
    # from scratch, every layer trains and BatchNorm learns its statistics
    if backbone.get('frozen_stages', -1) != -1 or backbone.get('norm_eval'):
        backbone.frozen_stages, backbone.norm_eval = -1, False
    for key, value in demo.get('recursive_model_overrides', {}).items():
        _set_recursive(cfg.model, key, value)
    for path, value in demo.get('model_overrides_if_present', {}).items():
        *parents, leaf = path.split('.')
        node = cfg.model
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            node[leaf] = value
    _update_by_type(cfg.model, demo.get('model_overrides_by_type', {}))
    for key in demo.get('model_keys_to_drop', []):
        cfg.model.pop(key, None)
    overrides = {k: v for k, v in demo.to_dict().items() if k not in _DEMO_KEYS}
    cfg.merge_from_dict(overrides)
    if demo.get('bf16_autocast_on_cpu') and not torch.cuda.is_available():
        if cpu_has_native_bf16():
            enable_amp(cfg)
            print_log('demo: training in bf16 autocast (this CPU computes bf16 natively)', logger='current')
        else:
            print_log('demo: training in fp32 (this CPU has no native bf16, where bf16 would be slower); expect '
                      'about 1.5x the time the README quotes', logger='current')
    return cfg


def _draw(visualizer, task: str, image: np.ndarray, sample) -> np.ndarray:
    if task == 'cls':
        return visualizer.visualize_cls(image, sample, show=False, draw_gt=True, draw_pred=True)
    kwargs = dict(pred_score_thr=0.3) if task == 'det' else {}
    visualizer.add_datasample('demo', image, sample, draw_gt=True, draw_pred=True, show=False, **kwargs)
    return visualizer.get_image()


@torch.no_grad()
def save_predictions(runner, out_file: str, num_images: int = 4) -> str:
    """Draw ground truth beside predictions for the first validation images into one PNG; return its path."""
    task = TASKS[runner.cfg.default_scope]
    loader = runner.val_dataloader if runner.val_dataloader is not None else runner.test_dataloader
    visualizer = runner.visualizer
    visualizer.dataset_meta = loader.dataset.metainfo
    model = runner.model
    model.eval()
    rows = []
    for data in loader:
        for sample in model.val_step(data):
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            rows.append(_draw(visualizer, task, image, sample))
            if len(rows) == num_images:
                break
        if len(rows) == num_images:
            break
    width = max(r.shape[1] for r in rows)
    canvas = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                             for r in rows])
    Path(osp.dirname(osp.abspath(out_file))).mkdir(parents=True, exist_ok=True)
    mmcv.imwrite(mmcv.rgb2bgr(canvas), out_file)
    return out_file
