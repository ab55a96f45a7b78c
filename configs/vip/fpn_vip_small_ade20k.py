# Semantic FPN on ADE20K with the pyramid ViP-small backbone. ViP has no published segmentation recipe; this is the
# one of PVT and CycleMLP: 40k iterations at batch 16 (4 GPUs x 4), AdamW lr 1e-4, weight decay 1e-4, poly decay
# (power 0.9), 512x512 crops.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/vip_small_in1k.pth'  # from configs/vip/vip_small_in1k.py
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmvg.VisionPermutator',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]),
    decode_head=dict(num_classes=150))

optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False)]
# keep the last and the best checkpoint
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='mIoU', rule='greater'))
