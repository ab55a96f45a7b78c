# Pyramid ConvMixer-small on ImageNet-1k: the authors' ConvMixer recipe of convmixer_1536_20_in1k.py unchanged
# (150 epochs, AdamW lr 0.01, one-cycle). Not yet trained: no ImageNet number exists for the pyramid models.
_base_ = './convmixer_1536_20_in1k.py'
model = dict(
    backbone=dict(_delete_=True, type='mmvg.PyramidConvMixer', arch='small', out_indices=-1),
    head=dict(in_channels=1536))
