"""Convert an official Vision GNN checkpoint (PViG or ViG, bare or under 'model' / 'state_dict') or mmpretrain's
converted one to mmvg's layout.

    python tools/model_converters/vig_to_mmvg.py pvig_s_82.1.pth.tar pretrain/pvig_small_mmvg.pth

Not needed for training: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` converts on the fly. The output holds
``{'state_dict': {'backbone.*': ..., 'head.*': ...}}``; the official ``relative_pos`` tables are dropped (mmvg
computes the relative-position term from the grid).
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader

import mmvg  # noqa: F401  (torch>=2.6-safe local checkpoint loader)
from mmvg.models.utils import convert_vig, unwrap_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official or mmpretrain checkpoint (path or URL)')
    parser.add_argument('dst', help='output path')
    args = parser.parse_args()
    state_dict = convert_vig(unwrap_state_dict(CheckpointLoader.load_checkpoint(args.src, map_location='cpu')))
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save({'state_dict': state_dict}, args.dst)
    num_backbone = sum(k.startswith('backbone.') for k in state_dict)
    print(f'{args.src} -> {args.dst}: {num_backbone} backbone tensors, {len(state_dict) - num_backbone} others')


if __name__ == '__main__':
    main()
