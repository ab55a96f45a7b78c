# ConvMixer-768/32 (kernel 7, ReLU) on ImageNet-1k: the recipe of convmixer_1536_20_in1k.py for 300 epochs, as the
# authors trained it.
_base_ = './convmixer_1536_20_in1k.py'
max_epochs = 300
model = dict(backbone=dict(arch='768/32'), head=dict(in_channels=768))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = dict(total_steps=max_epochs)
