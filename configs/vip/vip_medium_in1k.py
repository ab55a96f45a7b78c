# The pyramid ViP-medium (strides 4-32, sized as PViG-M) on ImageNet-1k with the ViP-S/7 recipe (vip_s7_in1k.py)
# and drop path 0.2 for its 33 blocks.
_base_ = './vip_s7_in1k.py'
model = dict(backbone=dict(arch='medium', drop_path_rate=0.2), head=dict(in_channels=768))
