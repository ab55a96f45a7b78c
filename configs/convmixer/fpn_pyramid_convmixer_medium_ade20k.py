# Semantic FPN on ADE20K with a Pyramid ConvMixer-medium backbone, the recipe of
# fpn_pyramid_convmixer_small_ade20k.py.
_base_ = './fpn_pyramid_convmixer_small_ade20k.py'
checkpoint = 'checkpoints/pyramid_convmixer_medium_in1k.pth'
model = dict(backbone=dict(arch='medium', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[256, 512, 1024, 2048]))
