"""Convert an official Context Cluster checkpoint (ImageNet or the authors' COCO/ADE20K ones, current or old layout)
to mmvg's layout.

    python tools/model_converters/coc_to_mmvg.py coc_small.pth.tar checkpoints/coc_small_in1k_mmvg.pth

The result loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` (or without prefix),
and an ImageNet checkpoint also as ``load_from`` of ``configs/coc/coc_small_in1k.py``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.runner.checkpoint import CheckpointLoader  # noqa: E402

from mmvg.models.utils import convert_coc, unwrap_state_dict  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    args = parser.parse_args()
    state_dict = unwrap_state_dict(CheckpointLoader.load_checkpoint(args.src, map_location='cpu'))
    converted = convert_coc(state_dict)
    if set(converted) == set(state_dict):
        print(f'{args.src} is not in an official Context Cluster layout; nothing to convert', file=sys.stderr)
        sys.exit(1)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': dict(converted_from=args.src)}, args.dst)
    print(f'{len(state_dict)} tensors -> {len(converted)} tensors: {args.dst}')


if __name__ == '__main__':
    main()
