# The Semantic FPN recipe of the pyramid backbones (PVT, CoC): 80k iterations, AdamW lr 1e-4, weight decay 1e-4,
# poly decay (power 0.9) to 0, batch 16 (4 GPUs x 4); keeps the last and the best checkpoint.
_base_ = ['mmseg::_base_/schedules/schedule_80k.py', 'mmseg::_base_/default_runtime.py']

optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=80000, by_epoch=False)]
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best='mIoU', rule='greater'))
