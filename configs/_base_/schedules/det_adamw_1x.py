# The 1x detection recipe of the pyramid backbones (PVT, CycleMLP, CoC): mmdet's 12-epoch schedule (steps at
# epochs 8 and 11, linear warm-up) with AdamW lr 1e-4, weight decay 1e-4, batch 16 (8 GPUs x 2); keeps the last
# and the best checkpoint.
_base_ = ['mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py']

optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='coco/bbox_mAP', rule='greater'))
