# Semantic FPN on ADE20K with the isotropic ConvMixer-768/32 (kernel 7, ReLU), the setup of
# fpn_convmixer_1536_20_ade20k.py.
_base_ = './fpn_convmixer_1536_20_ade20k.py'
checkpoint = 'checkpoints/convmixer_768_32_ks7_p7_relu.pth.tar'
model = dict(backbone=dict(arch='768/32', init_cfg=dict(checkpoint=checkpoint)), neck=dict(in_channels=[768]))
