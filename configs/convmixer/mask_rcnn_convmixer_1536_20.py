# Mask R-CNN 1x on COCO with the isotropic ConvMixer-1536/20 and a simple feature pyramid (as ViTDet): the last
# map (stride 7) goes through mmvg.SimplePyramid to strides 4-64 in place of FPN; RPN and RoI heads are mmdet's.
# The recipe of mask_rcnn_pyramid_convmixer_small.py (PVT's 1x: AdamW lr 1e-4, weight decay 1e-4, batch 16).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# The authors' ImageNet weights (GitHub release tmp-iclr/convmixer v1.0, see configs/convmixer/README.md),
# converted on load.
checkpoint = 'checkpoints/convmixer_1536_20_ks9_p7.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvg.ConvMixer',
        arch='1536/20',
        out_indices=(-1, ),
        drop_path_rate=0.1,
        # BatchNorm with 2 images per GPU: keep the ImageNet statistics, train the affine parameters
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        # 20 full-width blocks on a 115 x 191 grid (1333 x 800) save 19 GiB of activations per image for the
        # backward pass (measured); checkpointing keeps the 20 block inputs, about 2.5 GiB
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(
        _delete_=True,
        type='mmvg.SimplePyramid',
        in_channels=[1536],
        out_channels=256,
        in_stride=7,
        out_strides=(4, 8, 16, 32, 64)))  # the anchor generator's strides; RoIs use the first four
