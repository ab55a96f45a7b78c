"""Convert a ConvMixer checkpoint of the authors (the released ``.pth.tar`` files), timm or mmpretrain to mmvg's
layout, and check that it loads strictly into ``mmvg.ConvMixer``.

    python tools/model_converters/convmixer_to_mmvg.py convmixer_1536_20_ks9_p7.pth.tar \\
        checkpoints/convmixer_1536_20_mmvg.pth

Not needed for training: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` converts on the fly. The output holds
``{'state_dict': {'backbone.*': ..., 'head.fc.*': ...}}`` (mmpretrain's ``LinearClsHead``), so it also serves as
``load_from`` of ``configs/convmixer/convmixer_*_in1k.py``. The arch (width, depth, kernel, patch) is read from the
tensors; the activation is not stored in a checkpoint: 768/32 uses ReLU, the others GELU.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.runner.checkpoint import CheckpointLoader  # noqa: E402

from mmvg.models import ConvMixer  # noqa: E402
from mmvg.models.utils import convert_convmixer, unwrap_state_dict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='ConvMixer checkpoint of the authors, timm or mmpretrain (path or URL)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    args = parser.parse_args()
    state_dict = unwrap_state_dict(CheckpointLoader.load_checkpoint(args.src, map_location='cpu'))
    converted = convert_convmixer(state_dict)
    backbone = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    if 'stem.0.weight' not in backbone or 'stages.0.blocks.0.dwconv.weight' not in backbone:
        print(f'{args.src} is not a ConvMixer checkpoint in a known layout (keys such as {sorted(state_dict)[:4]})',
              file=sys.stderr)
        sys.exit(1)
    stem, dw = backbone['stem.0.weight'], backbone['stages.0.blocks.0.dwconv.weight']
    depth = sum(k.endswith('.dwconv.weight') for k in backbone)
    arch = dict(embed_dim=stem.shape[0], depth=depth, kernel_size=dw.shape[-1], patch_size=stem.shape[-1])
    ConvMixer(arch=arch).load_state_dict(backbone, strict=True)  # every tensor has its place
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': dict(converted_from=args.src, arch=arch)}, args.dst)
    print(f'{args.src} -> {args.dst}: ConvMixer {arch}, {len(backbone)} backbone tensors, '
          f'{len(converted) - len(backbone)} others ({sorted(set(converted) - {"backbone." + k for k in backbone})})')


if __name__ == '__main__':
    main()
