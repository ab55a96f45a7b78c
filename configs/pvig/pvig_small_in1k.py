# PViG-S on ImageNet-1k in mmpretrain. The authors trained with timm's train.py (vig_pytorch/readme.md): 300 epochs,
# 8 GPUs x 128, AdamW lr 2e-3, weight decay 0.05 (none on biases and norms), cosine after 20 warm-up epochs from
# 1e-6, RandAugment rand-m9-mstd0.5-inc1, mixup 0.8, cutmix 1.0, label smoothing 0.1, random erasing 0.25, repeated
# augmentation, EMA 0.99996, drop path 0.1. Here the same recipe in mmpretrain's pipeline, with the inputs the
# official weights expect: mean = std = 0.5 (127.5 on 0-255 images). Test: resize 248 (crop 0.9), centre 224.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs128_vig_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvg.PyramidViG', arch='small', out_indices=(3, ), drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    # the official head: 1x1 conv (as Linear) 640 -> 1024, BN, GELU, 1024 -> classes; official checkpoints load
    # into it through mmvg's converter
    head=dict(
        type='VigClsHead',
        num_classes=1000,
        in_channels=640,
        hidden_dim=1024,
        act_cfg=dict(type='GELU'),
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(sampler=dict(_delete_=True, type='RepeatAugSampler', shuffle=True))
optim_wrapper = dict(optimizer=dict(lr=2e-3), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=5e-4, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20),
]
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(base_batch_size=1024)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='accuracy/top1', rule='greater'))  # the last and the best
