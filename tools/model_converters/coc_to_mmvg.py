"""Convert an official Context Cluster checkpoint (ImageNet or the authors' COCO/ADE20K ones, current or old layout)
to mmvg's layout.

    python tools/model_converters/coc_to_mmvg.py coc_small.pth.tar checkpoints/coc_small_in1k_mmvg.pth

The result loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` (or without prefix),
and an ImageNet checkpoint also as ``load_from`` of ``configs/coc/coc_small_in1k.py``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models.utils import convert_coc, converter_main  # noqa: E402


if __name__ == '__main__':
    converter_main(__doc__, convert_coc, 'Context Cluster')
