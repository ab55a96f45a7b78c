# Semantic FPN on ADE20K with a CoC-small backbone (4 centres per region), the authors' recipe:
# 80k iterations, AdamW lr 1e-4, weight decay 1e-4, poly decay (power 0.9) to 0, 512x512 crops, batch 4 per GPU.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/seg_adamw_80k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/coc_small_in1k.pth.tar'
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.ContextCluster',
        arch='small',
        proposal_size=2,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))
