# The pyramid ViP-small (strides 4-32, sized as PViG-S) on ImageNet-1k with the ViP-S/7 recipe (vip_s7_in1k.py).
# Its weights initialise mask_rcnn_vip_small.py and fpn_vip_small_ade20k.py (checkpoints/vip_small_in1k.pth).
_base_ = './vip_s7_in1k.py'
model = dict(backbone=dict(arch='small', drop_path_rate=0.1), head=dict(in_channels=640))
