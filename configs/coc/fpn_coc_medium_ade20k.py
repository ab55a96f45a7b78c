# Semantic FPN on ADE20K with a CoC-medium backbone (4 centres per region), the authors' recipe.
_base_ = './fpn_coc_small_ade20k.py'
checkpoint = 'checkpoints/coc_medium_in1k.pth.tar'
model = dict(backbone=dict(arch='medium', init_cfg=dict(checkpoint=checkpoint)))
