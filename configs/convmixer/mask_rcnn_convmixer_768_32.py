# Mask R-CNN 1x on COCO with the isotropic ConvMixer-768/32 (kernel 7, ReLU), the setup of
# mask_rcnn_convmixer_1536_20.py (with gradient checkpointing too: 9.7 GiB of saved activations per image
# without it).
_base_ = './mask_rcnn_convmixer_1536_20.py'
checkpoint = 'checkpoints/convmixer_768_32_ks7_p7_relu.pth.tar'
model = dict(backbone=dict(arch='768/32', init_cfg=dict(checkpoint=checkpoint)), neck=dict(in_channels=[768]))
