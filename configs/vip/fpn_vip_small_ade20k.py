# Semantic FPN on ADE20K with the pyramid ViP-small backbone. ViP has no published segmentation recipe; this is the
# one of PVT and CycleMLP: 40k iterations at batch 16 (4 GPUs x 4), AdamW lr 1e-4, weight decay 1e-4, poly decay
# (power 0.9), 512x512 crops.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/seg_adamw_80k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/vip_small_in1k.pth'  # from configs/vip/vip_small_in1k.py
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.VisionPermutator',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]),
    decode_head=dict(num_classes=150))

param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False)]

# 40k iterations at batch 16 (mmseg's schedule_40k: evaluation and checkpoints every 4k)
train_cfg = dict(max_iters=40000, val_interval=4000)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4000))
