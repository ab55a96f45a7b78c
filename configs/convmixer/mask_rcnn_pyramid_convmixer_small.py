# Mask R-CNN FPN 1x on COCO with a Pyramid ConvMixer-small backbone. ConvMixer has no detection result or recipe;
# this is the 1x recipe mmvg uses for every pyramid backbone (PVT's: AdamW lr 1e-4, weight decay 1e-4, 12 epochs,
# batch 16 = 8 GPUs x 2).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# ImageNet weights trained with pyramid_convmixer_small_in1k.py (none are released yet).
checkpoint = 'checkpoints/pyramid_convmixer_small_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvg.PyramidConvMixer',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        # BatchNorm with 2 images per GPU: keep the ImageNet statistics (as mmdet does for ResNet), train the
        # affine parameters; dict(type='SyncBN', requires_grad=True) with norm_eval=False to train them across GPUs
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
