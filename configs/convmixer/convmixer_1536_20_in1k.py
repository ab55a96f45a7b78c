# ConvMixer-1536/20 on ImageNet-1k in mmpretrain, the authors' recipe (locuslab/convmixer README, "exactly the
# settings we used"; timm train.py): 150 epochs, 10 GPUs x 64, AdamW lr 0.01 with eps 1e-3 and timm's default weight
# decay 2e-5, one-cycle schedule without warm-up epochs, gradient clipping at norm 1.0, AMP, RandAugment
# rand-m9-mstd0.5-inc1, mixup 0.5 and cutmix 0.5 (switching per batch), label smoothing 0.1, random erasing 0.25
# (per-pixel noise), no drop path. Test: resize 233 (crop 0.96), centre 224, bicubic, ImageNet mean/std.
# Differences: the one-cycle schedule starts at lr / 20 instead of 0 (mmengine's OneCycleLR; the rest is the same
# three linear phases: up to lr at 40%, down to lr / 20 at 80%, down to 0), and training resizes bicubic only
# (timm's train.py picks bilinear or bicubic at random).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_convmixer_224.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvg.ConvMixer', arch='1536/20', out_indices=-1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1536,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.5), dict(type='CutMix', alpha=0.5)]))

max_epochs = 150
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.01, eps=1e-3, weight_decay=2e-5),
    clip_grad=dict(max_norm=1.0))
param_scheduler = dict(
    type='OneCycleLR', eta_max=0.01, total_steps=max_epochs, pct_start=0.4, anneal_strategy='linear',
    three_phase=True, div_factor=20, final_div_factor=1e4, by_epoch=True, convert_to_iter_based=True)
auto_scale_lr = dict(base_batch_size=640)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='accuracy/top1', rule='greater'))  # the last and the best
