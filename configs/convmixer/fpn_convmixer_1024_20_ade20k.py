# Semantic FPN on ADE20K with the isotropic ConvMixer-1024/20 (kernel 9, patch 14), the setup of
# fpn_convmixer_1536_20_ade20k.py.
_base_ = './fpn_convmixer_1536_20_ade20k.py'
checkpoint = 'checkpoints/convmixer_1024_20_ks9_p14.pth.tar'
model = dict(backbone=dict(arch='1024/20', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[1024], in_stride=14))
