# Semantic FPN on ADE20K with the pyramid ViP-tiny backbone, the recipe of fpn_vip_small_ade20k.py.
_base_ = './fpn_vip_small_ade20k.py'
checkpoint = 'checkpoints/vip_tiny_in1k.pth'
model = dict(backbone=dict(arch='tiny', init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[48, 96, 240, 384]))
