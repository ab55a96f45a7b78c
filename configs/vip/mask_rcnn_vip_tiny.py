# Mask R-CNN FPN 1x on COCO with the pyramid ViP-tiny backbone, the recipe of mask_rcnn_vip_small.py.
_base_ = './mask_rcnn_vip_small.py'
checkpoint = 'checkpoints/vip_tiny_in1k.pth'
model = dict(backbone=dict(arch='tiny', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[48, 96, 240, 384]))
