# Semantic FPN on ADE20K with a PViG-S backbone. The ViG paper has no segmentation result; this is the Semantic FPN
# recipe of the pyramid backbones it compares with (PVT): 80k iterations, AdamW lr 1e-4, weight decay 1e-4,
# poly decay (power 0.9) to 0, 512x512 crops, batch 4 per GPU.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/seg_adamw_80k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/pvig_s_82.1.pth.tar'
crop_size = (512, 512)
# The official weights were trained on inputs normalised with mean = std = 0.5; the backbone's BatchNorm statistics
# assume that range, so segmentation keeps it instead of ImageNet's mean/std.
data_preprocessor = dict(size=crop_size, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.PyramidViG',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        # 4 crops per GPU: keep the ImageNet BatchNorm statistics, train the affine parameters
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]),
    decode_head=dict(num_classes=150))
