# CoC-medium-25: 25 centres per region (5 x 5) in every stage.
_base_ = './mask_rcnn_coc_medium.py'
model = dict(backbone=dict(proposal_size=5))
