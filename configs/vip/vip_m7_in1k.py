# ViP-Medium/7 on ImageNet-1k, the authors' recipe as vip_s7_in1k.py (the README gives the command for S/7 only;
# its drop path 0.1 is kept here). Test: resize 248 (crop_pct 0.9), centre 224.
_base_ = './vip_s7_in1k.py'
model = dict(backbone=dict(arch='m7'), head=dict(in_channels=512))
