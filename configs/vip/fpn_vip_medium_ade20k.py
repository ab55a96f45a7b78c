# Semantic FPN on ADE20K with the pyramid ViP-medium backbone, the recipe of fpn_vip_small_ade20k.py.
_base_ = './fpn_vip_small_ade20k.py'
checkpoint = 'checkpoints/vip_medium_in1k.pth'
model = dict(backbone=dict(arch='medium', drop_path_rate=0.2, init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[96, 192, 384, 768]))
