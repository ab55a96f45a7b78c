# CoC-medium-49: 49 centres per region (7 x 7) in every stage.
_base_ = './mask_rcnn_coc_medium.py'
model = dict(backbone=dict(proposal_size=7))
