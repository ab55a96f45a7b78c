# ViP-Small/7 on ImageNet-1k in mmpretrain, the authors' recipe (README command, timm 0.4.5 train script):
# 8 GPUs x 256 = 2048, AdamW lr 2e-3 (not scaled by batch), weight decay 0.05 (none on norms and biases), eps 1e-8,
# 20 warm-up epochs from 1e-6, cosine to 1e-5 at epoch 300, then 10 cool-down epochs at 1e-5 (310 in the logs),
# RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25 (pixel mode), mixup 0.8 / cutmix 1.0 (one of the two per
# batch), label smoothing 0.1, drop path 0.1, no gradient clipping. Test: resize 248 (crop_pct 0.9), centre 224.
# Differences: mmpretrain's bicubic RandomResizedCrop instead of timm's random bilinear/bicubic choice; the cosine
# starts after the warm-up (timm evaluates it from epoch 0, 1.1% lower at epoch 20).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvg.VisionPermutator', arch='s7', out_indices=-1, drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

crop_resize = 248  # 224 / crop_pct
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=crop_resize, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20, end=300, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=310)  # the last 10 at eta_min
auto_scale_lr = dict(base_batch_size=2048)
# keep the last and the best checkpoint
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='accuracy/top1', rule='greater'))
