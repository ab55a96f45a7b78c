# RetinaNet FPN 1x on COCO with a PViG-S backbone. The ViG paper reports 41.8 AP and released no detection code;
# its authors only say they kept mmdetection's settings. Here: the 1x recipe of the pyramid backbones it compares
# with (PVT: AdamW lr 1e-4, weight decay 1e-4, 12 epochs, batch 16).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '../_base_/schedules/det_adamw_1x.py',
]
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)

checkpoint = 'checkpoints/pvig_s_82.1.pth.tar'
model = dict(
    # the official weights expect mean = std = 0.5 inputs (see mask_rcnn_pvig_small.py)
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(
        _delete_=True,
        type='mmvg.PyramidViG',
        arch='small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[80, 160, 400, 640]))
