# ConvMixer-1024/20 (kernel 9, patch 14) on ImageNet-1k. The authors give no schedule for it; this is the recipe of
# convmixer_1536_20_in1k.py (150 epochs).
_base_ = './convmixer_1536_20_in1k.py'
model = dict(backbone=dict(arch='1024/20'), head=dict(in_channels=1024))
