# CoC-small-49: 49 centres per region (7 x 7) in every stage.
_base_ = './mask_rcnn_coc_small.py'
model = dict(backbone=dict(proposal_size=7))
