# Semantic FPN, CoC-medium-49: 49 centres per region (7 x 7) in every stage.
_base_ = './fpn_coc_medium_ade20k.py'
model = dict(backbone=dict(proposal_size=7))
