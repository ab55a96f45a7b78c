# Overrides that `tools/train.py CONFIG --demo` applies to any mmdet config: the generated shapes data in COCO
# format (3 classes, 160x160 images), and a schedule sized for a 2-core CPU. The model is the config's, trained
# from scratch (no pre-trained weights can be downloaded here).
shapes_root = 'data/shapes'
shapes_kwargs = dict(num_train=800, num_val=100, img_size=(160, 160), shape_size=(0.3, 0.7), min_visible=0.8,
                     seed=0)
# set wherever these keys appear in the model (two-stage and one-stage heads alike); one RoIAlign sample per bin
# (instead of an adaptive count) takes a quarter of the CPU's RoIAlign time, the largest single cost of a step
recursive_model_overrides = dict(num_classes=3, sampling_ratio=1)
# set only where the model has them:
model_overrides_if_present = {
    # Mask R-CNN: fewer proposals and sampled RoIs for the CPU (1-4 shapes an image), and fewer detections kept
    # per image. Half of the 32 sampled RoIs may be positives: as many positives as 64 at mmdet's 25%, for half
    # the box-head work. 100 test proposals instead of 300 halve the evaluation time and, with a young box
    # classifier, leave fewer stray boxes (bbox mAP 0.240 -> 0.261 on the same weights)
    'train_cfg.rpn_proposal.max_per_img': 300,
    'train_cfg.rcnn.sampler.num': 32,
    'train_cfg.rcnn.sampler.pos_fraction': 0.5,
    'test_cfg.rpn.max_per_img': 100,
    'test_cfg.rcnn.max_per_img': 50,
    # layer scales start at 1 instead of 1e-5: the small init keeps deep residual stacks stable over a long
    # pre-training, but from scratch in a few hundred steps it would leave the blocks nearly off
    'backbone.layer_scale_init_value': 1.0,
}
# mmdet's recipe for training from scratch (configs/scratch: GroupNorm in the neck and heads, and a box head of
# four GN convs and one FC): without pre-trained features, normalised FPN and mask-head maps more than doubled the
# demo's bbox mAP (0.048 -> 0.112 measured), and the conv box head learns the classes sooner (0.162 -> 0.181 in
# the same 13 minutes)
model_overrides_by_type = {
    'FPN': dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    'FCNMaskHead': dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    'Shared2FCBBoxHead': dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256,
                              norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
}
# train in bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 / AMX: convolutions 3-4x faster than
# fp32); elsewhere fp32. mmcv ops and head outputs stay fp32 (mmvg/apis/amp.py).
bf16_autocast_on_cpu = True

data_root = 'data/shapes/coco/'
metainfo = dict(classes=('circle', 'square', 'triangle'), palette=[(220, 20, 60), (0, 114, 255), (60, 180, 75)])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train2017.json', data_prefix=dict(img='train2017/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val2017.json', data_prefix=dict(img='val2017/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_iters = 560  # 1.1-1.45 s per step on 2 cores in bf16 (machines vary): under 15 minutes with evaluation
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
# lr 4e-4: in 300-iteration runs with the same seed, bbox mAP 0.113 at 1.6e-3, 0.175 at 8e-4, 0.196 at 4e-4 and 0.185
# at 2e-4
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.05, fused=True),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, milestones=[480], gamma=0.1, begin=0, end=max_iters),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False)
# a seeded run: the same weights at start and the same batches each time (the result quoted in the README can be
# re-made on the same machine)
randomness = dict(seed=0)
