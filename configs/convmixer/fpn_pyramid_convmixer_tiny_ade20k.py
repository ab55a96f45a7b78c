# Semantic FPN on ADE20K with a Pyramid ConvMixer-tiny backbone, the recipe of fpn_pyramid_convmixer_small_ade20k.py.
_base_ = './fpn_pyramid_convmixer_small_ade20k.py'
checkpoint = 'checkpoints/pyramid_convmixer_tiny_in1k.pth'
model = dict(backbone=dict(arch='tiny', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[128, 256, 512, 1024]))
