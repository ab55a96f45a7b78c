"""Convert an official Vision Permutator checkpoint (ViP-Small/14, Small/7, Medium/7, Large/7 on ImageNet) to mmvg's
layout.

    python tools/model_converters/vip_to_mmvg.py vip_s7.pth checkpoints/vip_s7_in1k_mmvg.pth

The result loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` into ``mmvg.VisionPermutator`` (the
backbone keys, ``backbone.*``) and as ``load_from`` of ``configs/vip/vip_s7_in1k.py`` (with the classifier,
``head.fc.*``). The official files load through ``init_cfg`` directly as well; converting once saves the work on
every start.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.runner.checkpoint import CheckpointLoader  # noqa: E402

from mmvg.models.utils import convert_vip, unwrap_state_dict  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    args = parser.parse_args()
    state_dict = unwrap_state_dict(CheckpointLoader.load_checkpoint(args.src, map_location='cpu'))
    converted = convert_vip(state_dict)
    if set(converted) == set(state_dict):
        print(f'{args.src} is not in the official Vision Permutator layout; nothing to convert', file=sys.stderr)
        sys.exit(1)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': dict(converted_from=args.src)}, args.dst)
    print(f'{len(state_dict)} tensors -> {len(converted)} tensors: {args.dst}')


if __name__ == '__main__':
    main()
