# Mask R-CNN FPN 1x on COCO with the pyramid ViP-small backbone. ViP has no published detection recipe; this is
# the one of PVT and CycleMLP (MLP/transformer pyramids): AdamW lr 1e-4, weight decay 1e-4, 12 epochs, batch 16
# (8 GPUs x 2), single-scale 1333x800. Every permute-MLP mixes 224-pixel windows along each axis.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# No ImageNet weights are published for the pyramid variants: train configs/vip/vip_small_in1k.py first.
checkpoint = 'checkpoints/vip_small_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvg.VisionPermutator',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]))
