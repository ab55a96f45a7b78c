# Overrides that `tools/train.py CONFIG --demo` applies to any mmpretrain config: the generated shapes data in
# ImageNet folder format (3 classes), and a schedule sized for a 2-core CPU. The model is the config's, without
# mixup/cutmix (too strong a regulariser for a few hundred iterations).
shapes_root = 'data/shapes'
shapes_kwargs = dict(num_train=800, num_val=100, img_size=(256, 256), seed=0)
recursive_model_overrides = dict(num_classes=3)
model_keys_to_drop = ['train_cfg']  # batch augments (mixup / cutmix)

data_root = 'data/shapes/imagenet'
metainfo = dict(classes=('circle', 'square', 'triangle'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=160, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=160, edge='short'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='ImageNet', data_root=data_root, metainfo=metainfo,
                 ann_file='meta/train.txt', data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='ImageNet', data_root=data_root, metainfo=metainfo,
                 ann_file='meta/val.txt', data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, by_epoch=True, max_epochs=3, val_interval=3)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30)]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=1))
# no EMA: an average with momentum 4e-5 over a few hundred steps would evaluate nearly the initial weights
custom_hooks = []
auto_scale_lr = dict(enable=False)
# a seeded run: the same weights at start and the same batches each time (the result quoted in the README can be
# re-made on the same machine)
randomness = dict(seed=0)
