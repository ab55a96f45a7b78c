# CoC-medium on ImageNet-1k in mmpretrain, the same recipe as coc_small_in1k.py.
_base_ = './coc_small_in1k.py'
model = dict(backbone=dict(arch='medium'), head=dict(in_channels=512))
