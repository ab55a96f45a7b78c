# Semantic FPN on ADE20K with the isotropic ConvMixer-1536/20: the last map (stride 7) goes through
# mmvg.SimplePyramid to strides 4-32 in place of FPN, then mmseg's FPNHead. The recipe of
# fpn_pyramid_convmixer_small_ade20k.py (PVT's: 80k iterations, AdamW lr 1e-4, weight decay 1e-4, poly decay).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/seg_adamw_80k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# The authors' ImageNet weights, converted on load (see configs/convmixer/README.md).
checkpoint = 'checkpoints/convmixer_1536_20_ks9_p7.pth.tar'
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.ConvMixer',
        arch='1536/20',
        out_indices=(-1, ),
        drop_path_rate=0.1,
        # 4 crops per GPU: keep the ImageNet BatchNorm statistics, train the affine parameters
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(
        _delete_=True,
        type='mmvg.SimplePyramid',
        in_channels=[1536],
        out_channels=256,
        in_stride=7,
        out_strides=(4, 8, 16, 32)),  # FPNHead's feature_strides
    decode_head=dict(num_classes=150))
