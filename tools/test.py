"""Evaluate a checkpoint with any OpenMMLab 2.x config (mmdet, mmseg or mmpretrain) with mmvg loaded.

    python tools/test.py configs/coc/mask_rcnn_coc_small.py work_dirs/mask_rcnn_coc_small/epoch_12.pth
    python tools/test.py CONFIG CKPT --demo --show-dir vis     # on the generated shapes data
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmvg  # noqa: E402,F401
from mmvg.apis import (DatasetNotFoundError, apply_demo, check_datasets, save_predictions,  # noqa: E402
                       setup_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model with an mmvg backbone')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation logs')
    parser.add_argument('--demo', action='store_true', help='evaluate on the generated shapes data set')
    parser.add_argument('--show-dir', help='save a picture of predictions on validation images in this dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.demo:
        cfg = apply_demo(cfg)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    try:
        check_datasets(cfg, args.config, splits=('test_dataloader', ))
    except DatasetNotFoundError as e:
        sys.exit(str(e))
    setup_cpu_distributed(cfg)  # --launcher pytorch without CUDA: gloo
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    metrics = runner.test()
    if args.show_dir:
        out = save_predictions(runner, osp.join(args.show_dir, 'predictions.png'))
        runner.logger.info(f'predictions drawn to {out}')
    return metrics


if __name__ == '__main__':
    main()
