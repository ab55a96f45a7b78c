"""The contract every mmvg backbone keeps, checked for each entry of ``backbone_cases.BACKBONE_CASES``."""
import math

import pytest
import torch
import torch.nn as nn

import mmvg.models  # noqa: F401
from mmvg.registry import MODELS

from .backbone_cases import BACKBONE_CASES, FULL_ARCHS, case_params


def build(name, **overrides):
    type_, kwargs, _ = BACKBONE_CASES[name]
    return MODELS.build(dict(type=type_, **{**kwargs, **overrides}))


def expected_shapes(name, model, h, w, batch=1):
    strides = BACKBONE_CASES[name][2]
    return [(batch, c, math.ceil(h / strides[i]), math.ceil(w / strides[i]))
            for c, i in zip(model.out_channels, model.out_indices)]


@pytest.mark.parametrize('name', case_params())
@pytest.mark.parametrize('size', [(64, 64), (97, 131), (131, 33)])
def test_output_shapes_any_size(name, size):
    model = build(name).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        outs = model(x)
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == expected_shapes(name, model, *size, batch=2)
    assert model.out_strides == tuple(BACKBONE_CASES[name][2][i] for i in model.out_indices)
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('name', case_params())
def test_detection_size(name):
    model = build(name).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 800, 1333))
    assert [tuple(o.shape) for o in outs] == expected_shapes(name, model, 800, 1333)


@pytest.mark.parametrize('name', case_params())
def test_batch_independence(name):
    """A sample's features do not depend on the other samples of the batch (eval mode)."""
    model = build(name).eval()
    x = torch.rand(3, 3, 67, 45)
    with torch.no_grad():
        batched = model(x)
        single = model(x[1:2])
    for b, s in zip(batched, single):
        torch.testing.assert_close(b[1:2], s, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', case_params())
def test_every_parameter_gets_a_gradient(name):
    model = build(name).train()
    outs = model(torch.rand(2, 3, 64, 96))
    sum(o.mean() for o in outs).backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not no_grad, f'parameters without a finite gradient: {no_grad}'
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize('name', case_params())
def test_with_cp_matches_plain(name):
    torch.manual_seed(0)
    plain = build(name).train()
    cp = build(name, with_cp=True).train()
    cp.load_state_dict(plain.state_dict())
    x1 = torch.rand(2, 3, 64, 80, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    out1, out2 = plain(x1), cp(x2)
    for a, b in zip(out1, out2):
        torch.testing.assert_close(a, b)
    sum(o.square().mean() for o in out1).backward()
    sum(o.square().mean() for o in out2).backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for (n, p1), p2 in zip(plain.named_parameters(), cp.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, msg=n)


@pytest.mark.parametrize('name', case_params())
@pytest.mark.parametrize('out_indices,expected', [((0, 1, 2, 3), (0, 1, 2, 3)), ((-1, ), (3, )),
                                                  ((1, -1), (1, 3)), (2, (2, ))])
def test_out_indices(name, out_indices, expected):
    model = build(name, out_indices=out_indices).eval()
    assert model.out_indices == expected
    assert len(model.out_channels) == len(expected)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == list(model.out_channels)
    for i in range(4):
        assert hasattr(model, f'norm{i}') == (i in expected)


@pytest.mark.parametrize('name', case_params())
@pytest.mark.parametrize('out_indices', [(4, ), (-5, ), (0, 0), (), 'all'])
def test_bad_out_indices(name, out_indices):
    with pytest.raises(ValueError, match='out_indices'):
        build(name, out_indices=out_indices)


@pytest.mark.parametrize('name', case_params())
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 3])
def test_frozen_stages(name, frozen_stages):
    model = build(name, frozen_stages=frozen_stages)
    model.train()
    frozen = ([model.stem] if frozen_stages >= 0 else []) + [model.stages[i] for i in range(frozen_stages)]
    frozen += [getattr(model, f'norm{i}') for i in range(frozen_stages)]
    frozen_params = {id(p) for m in frozen for p in m.parameters()}
    for n, p in model.named_parameters():
        assert p.requires_grad == (id(p) not in frozen_params), n
    for m in frozen:
        assert not any(sub.training for sub in m.modules())
    for i in range(max(frozen_stages, 0), 4):
        assert model.stages[i].training
    # frozen weights do not move under an optimizer step
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    opt.step()
    for n, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, before[n]), n
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if p.requires_grad)


@pytest.mark.parametrize('name', case_params())
def test_norm_eval(name):
    model = build(name, norm_eval=True, norm_cfg=dict(type='BN'))
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns, 'norm_cfg=BN must build BatchNorm layers'
    assert not any(m.training for m in bns)
    model = build(name, norm_eval=False, norm_cfg=dict(type='BN')).train()
    assert all(m.training for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


@pytest.mark.parametrize('name', case_params())
def test_drop_path_rate(name):
    model = build(name, drop_path_rate=0.3)
    rates = [m.drop_prob for m in model.modules() if type(m).__name__ == 'DropPath']
    assert rates and max(rates) == pytest.approx(0.3) and rates == sorted(rates)


@pytest.mark.parametrize('name', case_params())
def test_unknown_arch_lists_valid_names(name):
    type_ = BACKBONE_CASES[name][0]
    with pytest.raises(ValueError, match='Unknown .* arch .*Choose one of'):
        MODELS.build(dict(type=type_, arch='no-such-arch'))
    with pytest.raises(ValueError, match='missing keys'):
        MODELS.build(dict(type=type_, arch=dict(depths=[1, 1, 1, 1])))


@pytest.mark.parametrize('name', case_params())
def test_bad_input_is_named(name):
    model = build(name).eval()
    with pytest.raises(ValueError, match='4-D'):
        model(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match='4-D'):
        model(torch.rand(1, 1, 3, 64, 64))
    with pytest.raises(ValueError, match='input channels'):
        model(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match='at least'):
        model(torch.rand(1, 3, 1, 64))


@pytest.mark.parametrize('name', case_params())
@pytest.mark.parametrize('prefix', [None, 'backbone.'])
def test_state_dict_round_trip_through_init_cfg(name, prefix, tmp_path):
    src = build(name).eval()
    keys = src.state_dict()
    sd = {f'{prefix}{k}': v for k, v in keys.items()} if prefix else keys
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': sd, 'meta': dict(note='mmvg')}, path)
    dst = build(name, init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix=prefix))
    dst.init_weights()
    dst.eval()
    for k, v in dst.state_dict().items():
        assert torch.equal(v, keys[k]), k
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        for a, b in zip(src(x), dst(x)):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize('name', case_params())
def test_foreign_checkpoint_is_refused(name, tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.rand(64, 3, 7, 7), 'fc.weight': torch.rand(10, 64)}, path)
    model = build(name, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='another model family'):
        model.init_weights()
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(b'PK\x03\x04 definitely not a checkpoint')
    model = build(name, init_cfg=dict(type='Pretrained', checkpoint=str(bad)))
    with pytest.raises(ValueError, match='not a readable PyTorch checkpoint'):
        model.init_weights()


@pytest.mark.parametrize('type_,arch', [(t, a) for t, archs in FULL_ARCHS.values() for a in archs])
def test_full_archs_build(type_, arch):
    model = MODELS.build(dict(type=type_, arch=arch))
    assert len(model.out_channels) == 4
    assert sum(p.numel() for p in model.parameters()) > 1e6
