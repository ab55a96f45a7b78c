"""Convert an official Vision GNN checkpoint (PViG or ViG, bare or under 'model' / 'state_dict') or mmpretrain's
converted one to mmvg's layout.

    python tools/model_converters/vig_to_mmvg.py pvig_s_82.1.pth.tar pretrain/pvig_small_mmvg.pth

Not needed for training: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` converts on the fly. The output holds
``{'state_dict': {'backbone.*': ..., 'head.*': ...}}``; the official ``relative_pos`` tables are dropped (mmvg
computes the relative-position term from the grid).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models.utils import convert_vig, converter_main  # noqa: E402


if __name__ == '__main__':
    converter_main(__doc__, convert_vig, 'Vision GNN')
