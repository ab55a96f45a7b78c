# Mask R-CNN FPN 1x on COCO with a Pyramid ConvMixer-tiny backbone, the recipe of mask_rcnn_pyramid_convmixer_small.py.
_base_ = './mask_rcnn_pyramid_convmixer_small.py'
checkpoint = 'checkpoints/pyramid_convmixer_tiny_in1k.pth'
model = dict(backbone=dict(arch='tiny', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[128, 256, 512, 1024]))
