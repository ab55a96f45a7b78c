# Semantic FPN on ADE20K with a Pyramid ConvMixer-small backbone: the Semantic FPN recipe mmvg uses for every
# pyramid backbone (PVT's): 80k iterations, AdamW lr 1e-4, weight decay 1e-4, poly decay (power 0.9) to 0,
# 512x512 crops, batch 4 per GPU.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/seg_adamw_80k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/pyramid_convmixer_small_in1k.pth'
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.PyramidConvMixer',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        # 4 crops per GPU: keep the ImageNet BatchNorm statistics, train the affine parameters
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[192, 384, 768, 1536]),
    decode_head=dict(num_classes=150))
