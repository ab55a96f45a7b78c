"""Convert a ConvMixer checkpoint of the authors (the released ``.pth.tar`` files), timm or mmpretrain to mmvg's
layout, and check that it loads strictly into ``mmvg.ConvMixer``.

    python tools/model_converters/convmixer_to_mmvg.py convmixer_1536_20_ks9_p7.pth.tar \\
        checkpoints/convmixer_1536_20_mmvg.pth

Not needed for training: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` converts on the fly. The output holds
``{'state_dict': {'backbone.*': ..., 'head.fc.*': ...}}`` (mmpretrain's ``LinearClsHead``), so it also serves as
``load_from`` of ``configs/convmixer/convmixer_*_in1k.py``. The arch (width, depth, kernel, patch) is read from the
tensors; the activation is not stored in a checkpoint: 768/32 uses ReLU, the others GELU.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models import ConvMixer  # noqa: E402
from mmvg.models.utils import convert_convmixer, converter_main  # noqa: E402


def check_convmixer(converted: dict) -> str:
    """Read the arch from the tensors and load the backbone strictly into it: every tensor has its place."""
    backbone = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    if 'stem.0.weight' not in backbone or 'stages.0.blocks.0.dwconv.weight' not in backbone:
        raise ValueError(f'not a ConvMixer checkpoint in a known layout (keys such as {sorted(converted)[:4]})')
    stem, dw = backbone['stem.0.weight'], backbone['stages.0.blocks.0.dwconv.weight']
    depth = sum(k.endswith('.dwconv.weight') for k in backbone)
    arch = dict(embed_dim=stem.shape[0], depth=depth, kernel_size=dw.shape[-1], patch_size=stem.shape[-1])
    ConvMixer(arch=arch).load_state_dict(backbone, strict=True)
    return str(arch)


if __name__ == '__main__':
    converter_main(__doc__, convert_convmixer, 'ConvMixer', check=check_convmixer)
