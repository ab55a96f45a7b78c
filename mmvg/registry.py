"""mmvg's registry: a child of MMEngine's root MODELS registry in scope ``mmvg``.

Configs of mmdet, mmseg or mmpretrain reach mmvg's backbones cross-scope::

    custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)
    model = dict(backbone=dict(type='mmvg.ContextCluster', arch='small'))
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmvg', locations=['mmvg.models'])
