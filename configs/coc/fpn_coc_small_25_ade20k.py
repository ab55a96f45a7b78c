# Semantic FPN, CoC-small-25: 25 centres per region (5 x 5) in every stage.
_base_ = './fpn_coc_small_ade20k.py'
model = dict(backbone=dict(proposal_size=5))
