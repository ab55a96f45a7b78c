# ViP-Large/7 on ImageNet-1k, the authors' recipe as vip_s7_in1k.py (the README gives the command for S/7 only;
# its drop path 0.1 is kept here). Test: resize 256 (crop_pct 0.875), centre 224.
_base_ = './vip_s7_in1k.py'
model = dict(backbone=dict(arch='l7'), head=dict(in_channels=512))
crop_resize = 256
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=crop_resize, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
