# Mask R-CNN FPN 1x on COCO with a CoC-small backbone (4 centres per region), the authors' recipe
# (AdamW lr 2e-4, weight decay 1e-4, 12 epochs, batch 16 = 8 GPUs x 2).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

# The official ImageNet weights (Google Drive, see configs/coc/README.md); converted automatically on load.
checkpoint = 'checkpoints/coc_small_in1k.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvg.ContextCluster',
        arch='small',
        proposal_size=2,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        layer_scale_init_value=1e-5,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(optimizer=dict(lr=2e-4))
