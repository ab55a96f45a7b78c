# The pyramid ViP-tiny (strides 4-32, sized as PViG-Ti) on ImageNet-1k with the ViP-S/7 recipe (vip_s7_in1k.py).
_base_ = './vip_s7_in1k.py'
model = dict(backbone=dict(arch='tiny', drop_path_rate=0.1), head=dict(in_channels=384))
