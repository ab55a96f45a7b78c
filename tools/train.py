"""Train any OpenMMLab 2.x config (mmdet, mmseg or mmpretrain, chosen by its ``default_scope``) with mmvg loaded.

    python tools/train.py configs/coc/mask_rcnn_coc_small.py                 # COCO at data/coco
    python tools/train.py configs/coc/mask_rcnn_coc_small.py --demo          # generated shapes data, CPU-sized
    bash tools/dist_train.sh configs/coc/mask_rcnn_coc_small.py 8            # 8 GPUs (torchrun)
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmvg  # noqa: E402,F401  (torch>=2.6-safe checkpoint loading, registry)
from mmvg.apis import (DatasetNotFoundError, apply_demo, check_datasets, enable_amp, save_predictions,  # noqa: E402
                       setup_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model with an mmvg backbone')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (fp16 on GPU, bf16 on CPU)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the lr by the real batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest one in the work dir')
    parser.add_argument('--demo', action='store_true',
                        help='train the same model on the generated shapes data set with a short CPU schedule, '
                        'evaluate it and save a picture of its predictions')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, e.g. model.backbone.drop_path_rate=0.2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    start = time.time()
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
        name = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', 'demo' if args.demo else '', name)

    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    try:
        check_datasets(cfg, args.config)
    except DatasetNotFoundError as e:
        sys.exit(str(e))
    setup_cpu_distributed(cfg)  # --launcher pytorch without CUDA: gloo
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    if args.demo:
        picture = save_predictions(runner, osp.join(cfg.work_dir, 'predictions.png'))
        metrics = {k[len('val/'):]: round(float(v.current()), 4)
                   for k, v in runner.message_hub.log_scalars.items() if k.startswith('val/')}
        result = dict(config=args.config, metrics=metrics, predictions=picture,
                      minutes=round((time.time() - start) / 60, 1))
        with open(osp.join(cfg.work_dir, 'demo_result.json'), 'w') as f:
            json.dump(result, f, indent=2)
        runner.logger.info(f'demo finished: {result}')


if __name__ == '__main__':
    main()
