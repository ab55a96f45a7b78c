# Mask R-CNN FPN 1x on COCO with a PViG-S backbone. The ViG paper reports 42.6 box / 39.4 mask AP and released no
# detection code; its authors only say they kept mmdetection's settings and fed every stage to FPN. Here: the 1x
# recipe of the pyramid backbones it compares with (PVT: AdamW lr 1e-4, weight decay 1e-4, 12 epochs, batch 16).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# The official ImageNet weights (GitHub release 'pyramid-vig', see configs/pvig/README.md); converted on load.
checkpoint = 'checkpoints/pvig_s_82.1.pth.tar'
model = dict(
    # The official weights were trained on inputs normalised with mean = std = 0.5; every BatchNorm of the
    # backbone holds statistics of that input range, so detection keeps it instead of ImageNet's mean/std.
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True,
        type='mmvg.PyramidViG',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        # BatchNorm with 2 images per GPU: keep the ImageNet statistics (as mmdet does for ResNet), train the affine
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]))
