"""Convert an official Vision Permutator checkpoint (ViP-Small/14, Small/7, Medium/7, Large/7 on ImageNet) to mmvg's
layout.

    python tools/model_converters/vip_to_mmvg.py vip_s7.pth checkpoints/vip_s7_in1k_mmvg.pth

The result loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` into ``mmvg.VisionPermutator`` (the
backbone keys, ``backbone.*``) and as ``load_from`` of ``configs/vip/vip_s7_in1k.py`` (with the classifier,
``head.fc.*``). The official files load through ``init_cfg`` directly as well; converting once saves the work on
every start.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models.utils import convert_vip, converter_main  # noqa: E402


if __name__ == '__main__':
    converter_main(__doc__, convert_vip, 'Vision Permutator')
