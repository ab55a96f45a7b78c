# Mask R-CNN 1x on COCO with the isotropic ConvMixer-1024/20 (patch 14: a 58 x 96 grid at 1333 x 800, 4.5 GiB
# of saved activations per image without gradient checkpointing), the setup of mask_rcnn_convmixer_1536_20.py.
_base_ = './mask_rcnn_convmixer_1536_20.py'
checkpoint = 'checkpoints/convmixer_1024_20_ks9_p14.pth.tar'
model = dict(backbone=dict(arch='1024/20', with_cp=False, init_cfg=dict(checkpoint=checkpoint)),
             neck=dict(in_channels=[1024], in_stride=14))
