# Pyramid ConvMixer-tiny on ImageNet-1k, the recipe of pyramid_convmixer_small_in1k.py.
_base_ = './pyramid_convmixer_small_in1k.py'
model = dict(backbone=dict(arch='tiny'), head=dict(in_channels=1024))
