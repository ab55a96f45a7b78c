"""Real training and evaluation through the upstream runners on generated data: the demo path for each task, the
launcher's resume after a kill, the missing-dataset message, and loading checkpoints mmengine saved (torch>=2.6)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from mmvg.apis import apply_demo, save_predictions

ROOT = Path(__file__).resolve().parents[1]
TINY_COC = dict(depths=[1, 1, 1, 1], embed_dims=[16, 24, 32, 40], num_heads=[2] * 4, head_dims=[8] * 4,
                mlp_ratios=[2] * 4, proposal_sizes=[2] * 4, folds=[8, 4, 2, 1])
SMALL_SHAPES = dict(num_train=8, num_val=4, img_size=(96, 128))


def demo_cfg(config: str, tmp_path: Path, **kwargs) -> Config:
    cfg = apply_demo(Config.fromfile(str(ROOT / config)), **{**SMALL_SHAPES, **kwargs})
    cfg.model.backbone.arch = TINY_COC
    if cfg.default_scope == 'mmpretrain':
        cfg.model.head.in_channels = TINY_COC['embed_dims'][-1]
    else:
        cfg.model.neck.in_channels = TINY_COC['embed_dims']
    if cfg.default_scope == 'mmdet':
        cfg.model.test_cfg.rcnn.score_thr = 0.  # keep every box: a few steps from scratch may score none above 0.05
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.logger.interval = 1
    return cfg


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo writes data/shapes relative to the working directory
    return tmp_path


@pytest.mark.slow
def test_demo_detection_trains_evaluates_and_draws(in_tmp):
    cfg = demo_cfg('configs/coc/mask_rcnn_coc_small.py', in_tmp)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = cfg.default_hooks.checkpoint.interval = 4
    runner = Runner.from_cfg(cfg)
    # mmdet's from-scratch recipe: GroupNorm in the FPN and the mask head, a box head of four GN convs
    model = runner.model
    assert isinstance(model.neck.fpn_convs[0].gn, torch.nn.GroupNorm)
    assert isinstance(model.roi_head.mask_head.convs[0].gn, torch.nn.GroupNorm)
    bbox_head = model.roi_head.bbox_head
    assert type(bbox_head).__name__ == 'Shared4Conv1FCBBoxHead' and bbox_head.num_classes == 3
    assert len(bbox_head.shared_convs) == 4 and isinstance(bbox_head.shared_convs[0].gn, torch.nn.GroupNorm)
    assert model.roi_head.bbox_roi_extractor.roi_layers[0].sampling_ratio == 1
    runner.train()
    metrics = {k: v.current() for k, v in runner.message_hub.log_scalars.items() if k.startswith('val/')}
    assert {'val/coco/bbox_mAP', 'val/coco/segm_mAP'} <= set(metrics)
    assert all(0 <= metrics[k] <= 1 for k in ('val/coco/bbox_mAP', 'val/coco/segm_mAP'))
    assert (in_tmp / 'work' / 'iter_4.pth').is_file()
    picture = save_predictions(runner, str(in_tmp / 'predictions.png'), num_images=2)
    image = Image.open(picture)
    assert image.width >= 128 and image.height >= 2 * 96


@pytest.mark.parametrize('config', ['configs/coc/mask_rcnn_coc_small.py', 'configs/coc/fpn_coc_small_ade20k.py',
                                    'configs/coc/coc_small_in1k.py'])
def test_demo_is_seeded(config, in_tmp):
    """Two demo runs start from the same weights and see the same batches: the README's result can be re-made."""
    runs = []
    for _ in range(2):
        runner = Runner.from_cfg(demo_cfg(config, in_tmp))
        batch = next(iter(runner.train_dataloader))
        runs.append((runner.model.state_dict(), [s.img_path for s in batch['data_samples']]))
    (weights_a, images_a), (weights_b, images_b) = runs
    assert images_a == images_b
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


@pytest.mark.parametrize('native', [True, False])
def test_demo_detection_uses_bf16_only_where_the_cpu_has_it(native, tmp_path, monkeypatch):
    monkeypatch.setattr('mmvg.apis.demo.cpu_has_native_bf16', lambda: native)
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    det = demo_cfg('configs/coc/mask_rcnn_coc_small.py', tmp_path)
    assert det.optim_wrapper.type == ('AutocastOptimWrapper' if native else 'OptimWrapper')
    assert det.optim_wrapper.optimizer.type == 'AdamW' and 'bf16_autocast_on_cpu' not in det
    assert not det.get('val_cfg', {}).get('fp16')  # validation stays fp32
    if native:
        assert det.optim_wrapper.dtype == 'bfloat16'
    # the other demos keep fp32
    assert demo_cfg('configs/coc/coc_small_in1k.py', tmp_path).optim_wrapper.type == 'OptimWrapper'


@pytest.mark.slow
def test_demo_segmentation_trains_and_evaluates(in_tmp):
    cfg = demo_cfg('configs/coc/fpn_coc_small_ade20k.py', in_tmp)
    cfg.model.data_preprocessor.size = (96, 128)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 3
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    miou = runner.message_hub.get_scalar('val/mIoU').current()
    assert 0 <= miou <= 100
    assert Image.open(save_predictions(runner, str(in_tmp / 'seg.png'), num_images=1)).width >= 128


@pytest.mark.slow
def test_demo_classification_trains_and_evaluates(in_tmp):
    cfg = demo_cfg('configs/coc/coc_small_in1k.py', in_tmp, num_train=48, num_val=24)
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    accuracy = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0 <= accuracy <= 100
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 6 and all(0 < x < 10 for x in losses)
    assert Image.open(save_predictions(runner, str(in_tmp / 'cls.png'), num_images=2)).height >= 2 * 96


def _train(cfg_path, work_dir, cwd, *extra, wait=True):
    cmd = [sys.executable, str(ROOT / 'tools' / 'train.py'), str(cfg_path), '--work-dir', str(work_dir), *extra]
    if wait:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.mark.slow
def test_kill_and_resume_continues_from_the_last_checkpoint(in_tmp):
    cfg = demo_cfg('configs/coc/coc_small_in1k.py', in_tmp, num_train=32, num_val=8)
    cfg.train_dataloader.batch_size = 4  # 8 iterations per epoch
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 6
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, max_keep_ckpts=2)
    cfg_path = in_tmp / 'resume_cfg.py'
    cfg.dump(str(cfg_path))
    work = in_tmp / 'work'

    proc = _train(cfg_path, work, in_tmp, wait=False)
    deadline = time.time() + 300
    while not (work / 'epoch_2.pth').exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (work / 'epoch_2.pth').exists() and not (work / 'epoch_6.pth').exists(), 'kill came too late'
    last = Path((work / 'last_checkpoint').read_text().strip())
    killed_at = torch.load(last, weights_only=False)
    assert killed_at['meta']['iter'] == 8 * killed_at['meta']['epoch']
    assert killed_at['optimizer']['state'], 'the checkpoint carries the optimizer state'

    result = _train(cfg_path, work, in_tmp, '--resume')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert f'resumed epoch: {killed_at["meta"]["epoch"]}' in log and f'iter: {killed_at["meta"]["iter"]}' in log
    final = torch.load(work / 'epoch_6.pth', weights_only=False)
    assert final['meta']['epoch'] == 6 and final['meta']['iter'] == 48
    step = final['optimizer']['state'][0]['step']
    assert int(step) == 48, 'the optimizer state continued, not restarted'


def test_missing_dataset_gives_one_clear_message(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / 'tools' / 'train.py'),
                             str(ROOT / 'configs' / 'coc' / 'mask_rcnn_coc_small.py')],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'Dataset not found' in result.stderr and 'data/coco/' in result.stderr
    assert 'docs/datasets.md' in result.stderr and '--demo' in result.stderr
    assert 'Traceback' not in result.stderr


def test_mmengine_checkpoints_load_under_torch_2_6(tmp_path):
    """mmengine 0.10.7 alone fails here (weights_only=True refuses numpy objects in 'meta')."""
    import numpy as np
    from mmengine.runner.checkpoint import load_checkpoint

    model = torch.nn.Linear(3, 2)
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': np.int64(3), 'arr': np.zeros(2)}}, path)
    target = torch.nn.Linear(3, 2)
    load_checkpoint(target, str(path))
    assert torch.equal(target.weight, model.weight)
