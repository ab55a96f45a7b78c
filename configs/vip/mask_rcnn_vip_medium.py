# Mask R-CNN FPN 1x on COCO with the pyramid ViP-medium backbone, the recipe of mask_rcnn_vip_small.py.
_base_ = './mask_rcnn_vip_small.py'
checkpoint = 'checkpoints/vip_medium_in1k.pth'
model = dict(backbone=dict(arch='medium', drop_path_rate=0.2, init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[96, 192, 384, 768]))
