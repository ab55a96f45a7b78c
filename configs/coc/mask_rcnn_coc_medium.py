# Mask R-CNN FPN 1x on COCO with a CoC-medium backbone (4 centres per region), the authors' recipe.
_base_ = './mask_rcnn_coc_small.py'
checkpoint = 'checkpoints/coc_medium_in1k.pth.tar'
model = dict(backbone=dict(arch='medium', init_cfg=dict(checkpoint=checkpoint)))
