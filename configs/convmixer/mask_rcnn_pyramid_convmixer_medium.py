# Mask R-CNN FPN 1x on COCO with a Pyramid ConvMixer-medium backbone, the recipe of
# mask_rcnn_pyramid_convmixer_small.py.
_base_ = './mask_rcnn_pyramid_convmixer_small.py'
checkpoint = 'checkpoints/pyramid_convmixer_medium_in1k.pth'
model = dict(backbone=dict(arch='medium', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[256, 512, 1024, 2048]))
