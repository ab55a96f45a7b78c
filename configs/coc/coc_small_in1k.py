# CoC-small on ImageNet-1k in mmpretrain. The authors trained with timm's train.py: 300 epochs, 8 GPUs x 128,
# AdamW lr 1e-3 (lr = batch / 1024 * 1e-3), weight decay 0.05, cosine to 1e-6 after 5 warm-up epochs,
# RandAugment rand-m9-mstd0.5-inc1, mixup 0.8, cutmix 1.0, label smoothing 0.1, random erasing 0.25, drop path 0.1.
# Here the same recipe in mmpretrain's pipeline. Test: resize 248 (crop 0.9), centre 224, ImageNet mean/std.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvg.ContextCluster', arch='small', out_indices=-1, drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5),
]
auto_scale_lr = dict(base_batch_size=1024)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='accuracy/top1', rule='greater'))  # the last and the best
