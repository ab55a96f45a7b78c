"""mmvg's backbones are reachable from mmdet, mmseg and mmpretrain configs, and every shipped config builds."""
import importlib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmvg.models.necks import SimplePyramid

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)
REGISTRIES = {'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry', 'mmpretrain': 'mmpretrain.registry'}

TINY_COC = dict(type='mmvg.ContextCluster',
                arch=dict(depths=[1, 1, 1, 1], embed_dims=[16, 24, 32, 40], num_heads=[2] * 4, head_dims=[8] * 4,
                          mlp_ratios=[2] * 4, proposal_sizes=[2] * 4, folds=[8, 4, 2, 1]))


def build_model(cfg: Config):
    init_default_scope(cfg.default_scope)
    return importlib.import_module(REGISTRIES[cfg.default_scope]).MODELS.build(cfg.model)


def test_configs_are_found():
    names = {p.name for p in CONFIGS}
    assert 'mask_rcnn_coc_small.py' in names and 'fpn_coc_small_ade20k.py' in names and 'coc_small_in1k.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope in REGISTRIES
    model = build_model(cfg)
    backbone = model.backbone
    assert type(backbone).__module__.startswith('mmvg.')
    if cfg.default_scope in ('mmdet', 'mmseg'):
        assert list(cfg.model.neck.in_channels) == list(backbone.out_channels)
        if isinstance(model.neck, SimplePyramid):  # an isotropic backbone: the neck makes the pyramid
            assert model.neck.in_stride == backbone.out_strides[-1]
            assert model.neck.out_strides[:4] == (4, 8, 16, 32)
            if 'rpn_head' in cfg.model:
                assert tuple(cfg.model.rpn_head.anchor_generator.strides) == model.neck.out_strides
        else:
            assert backbone.out_strides == (4, 8, 16, 32)
    else:
        assert cfg.model.head.in_channels == backbone.out_channels[-1]


def _user_config(tmp_path, text: str) -> Config:
    path = tmp_path / 'user_config.py'
    path.write_text(text)
    return Config.fromfile(str(path))


def test_from_a_users_mmdet_config(tmp_path):
    cfg = _user_config(tmp_path, f"""
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, **{TINY_COC!r}, out_indices=(1, 2, 3)),
             neck=dict(in_channels=[24, 32, 40], start_level=0))
""")
    model = build_model(cfg).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 96, 160))
    assert [tuple(f.shape[-2:]) for f in feats] == [(12, 20), (6, 10), (3, 5), (2, 3), (1, 2)]


def test_from_a_users_mmseg_config(tmp_path):
    cfg = _user_config(tmp_path, f"""
_base_ = ['mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(pretrained=None, backbone=dict(_delete_=True, **{TINY_COC!r}),
             neck=dict(in_channels=[16, 24, 32, 40]), decode_head=dict(num_classes=5, norm_cfg=norm_cfg))
""")
    model = build_model(cfg).eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 96), mode='tensor')
    assert logits.shape == (1, 5, 16, 24)


def test_from_a_users_mmpretrain_config(tmp_path):
    cfg = _user_config(tmp_path, f"""
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)
model = dict(type='ImageClassifier', backbone=dict(**{TINY_COC!r}, out_indices=-1),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=7, in_channels=40))
""")
    model = build_model(cfg).eval()
    with torch.no_grad():
        scores = model(torch.rand(2, 3, 64, 64), mode='tensor')
    assert scores.shape == (2, 7)


def test_scoped_name_resolves_from_the_root_registry():
    from mmengine.registry import MODELS as ROOT_MODELS

    from mmvg.models import ContextCluster
    assert ROOT_MODELS.get('mmvg.ContextCluster') is ContextCluster
