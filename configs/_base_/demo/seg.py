# Overrides that `tools/train.py CONFIG --demo` applies to any mmseg config: the generated shapes data in ADE20K
# format (background + 3 shape classes), and a schedule sized for a 2-core CPU. The model itself is the config's.
# mmseg's ADE20KDataset accepts only subsets of ADE20K's 150 class names, so the same files are read with its
# generic BaseSegDataset and ADE20K's settings (.jpg images, .png label maps, reduce_zero_label).
shapes_root = 'data/shapes'
shapes_kwargs = dict(num_train=800, num_val=100, img_size=(256, 256), seed=0)
recursive_model_overrides = dict(num_classes=4)

data_root = 'data/shapes/ade/ADEChallengeData2016'
metainfo = dict(classes=('background', 'circle', 'square', 'triangle'),
                palette=[(120, 120, 120), (220, 20, 60), (0, 114, 255), (60, 180, 75)])
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, reduce_zero_label=True,
                 img_suffix='.jpg', seg_map_suffix='.png',
                 data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, reduce_zero_label=True,
                 img_suffix='.jpg', seg_map_suffix='.png',
                 data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

model = dict(data_preprocessor=dict(size=crop_size))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=200, val_interval=200)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
                   dict(type='PolyLR', power=0.9, eta_min=0.0, begin=30, end=200, by_epoch=False)]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(by_epoch=False, interval=200, max_keep_ckpts=1))
# a seeded run: the same weights at start and the same batches each time (the result quoted in the README can be
# re-made on the same machine)
randomness = dict(seed=0)
