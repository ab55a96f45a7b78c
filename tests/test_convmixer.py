"""ConvMixer: parity with timm on identical weights, the authors' / timm / mmpretrain checkpoint layouts, the any-size
policy, the variants' sizes, the simple pyramid neck, the dense and classification configs."""
import argparse
import contextlib
import math
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmvg.models import ConvMixer, PyramidConvMixer
from mmvg.models.backbones.convmixer import ConvMixerBlock
from mmvg.models.necks import SimplePyramid
from mmvg.models.utils import convert_convmixer, convmixer_stage_depths

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(embed_dim=16, depth=6, kernel_size=3, patch_size=7)  # stages of 2, 2, 1, 1 blocks
TINY_PYRAMID = dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40])


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm statistics and affine parameters away from the identity, so that parity covers every tensor."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for t, lo, hi in ((m.weight, .5, 1.5), (m.bias, -.1, .1), (m.running_mean, -.1, .1),
                                  (m.running_var, .5, 1.5)):
                    t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)
    return model


def split(converted: dict):
    """Backbone tensors (prefix removed) and the rest of a converted state dict."""
    backbone = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    return backbone, {k: v for k, v in converted.items() if not k.startswith('backbone.')}


def logits(model: ConvMixer, head: dict, x: torch.Tensor) -> torch.Tensor:
    """The classifier of the checkpoint on mmvg's last map: global average pooling, Linear."""
    return F.linear(model(x)[-1].mean((2, 3)), head['head.fc.weight'], head['head.fc.bias'])


def timm_tiny(num_classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return randomize_norms(timm.models.convmixer.ConvMixer(
        dim=TINY['embed_dim'], depth=TINY['depth'], kernel_size=TINY['kernel_size'],
        patch_size=TINY['patch_size'], num_classes=num_classes)).eval()


# -- parity with timm ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('timm_name,arch,batch', [('convmixer_1024_20_ks9_p14', '1024/20', 2),
                                                  ('convmixer_768_32', '768/32', 1)])
def test_parity_with_timm_on_identical_weights(timm_name, arch, batch):
    torch.manual_seed(0)
    ref = randomize_norms(timm.create_model(timm_name, pretrained=False)).eval()
    converted = convert_convmixer(ref.state_dict())
    backbone, head = split(converted)
    ours = ConvMixer(arch=arch, out_indices=-1).eval()
    ours.load_state_dict(backbone, strict=True)
    assert sorted(head) == ['head.fc.bias', 'head.fc.weight']
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        ref_feat, feat = ref.forward_features(x), ours(x)[0]
        ref_logits = ref.forward_head(ref_feat)
    feat_diff = (ref_feat - feat).abs().max().item()
    logit_diff = (ref_logits - F.linear(feat.mean((2, 3)), head['head.fc.weight'], head['head.fc.bias'])).abs().max()
    assert feat_diff <= 1e-4 and logit_diff <= 1e-4, (feat_diff, logit_diff)


def test_every_block_output_matches_timm():
    ref = timm_tiny()
    ours = ConvMixer(arch=TINY).eval()
    ours.load_state_dict(split(convert_convmixer(ref.state_dict()))[0], strict=True)
    x = torch.randn(2, 3, 70, 84)
    with torch.no_grad():
        _, blocks = ref.forward_intermediates(x)
        outs = ours(x)
    ends = [sum(convmixer_stage_depths(TINY['depth'])[:i + 1]) - 1 for i in range(4)]  # blocks 1, 3, 4, 5
    for out, end in zip(outs, ends):
        torch.testing.assert_close(out, blocks[end], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('size', [(100, 130), (7, 7), (15, 64), (224, 224)])
def test_any_size_is_the_official_computation_on_the_zero_padded_image(size):
    """Inputs are padded at the bottom/right to whole patches: ceil(H / p) rows, and where H divides by p the
    official computation itself."""
    ref = timm_tiny()
    ours = ConvMixer(arch=TINY, out_indices=-1).eval()
    ours.load_state_dict(split(convert_convmixer(ref.state_dict()))[0], strict=True)
    x = torch.randn(1, 3, *size)
    p = TINY['patch_size']
    with torch.no_grad():
        out = ours(x)[0]
        expected = ref.forward_features(F.pad(x, (0, -size[1] % p, 0, -size[0] % p)))
    assert out.shape[-2:] == (math.ceil(size[0] / p), math.ceil(size[1] / p))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


# -- checkpoint layouts -------------------------------------------------------------------------------------------
def official_layout(ref: nn.Module) -> nn.Sequential:
    """The authors' ``convmixer.py`` model (one nn.Sequential: stem, blocks, pooling, flatten, Linear) made of the
    same modules as timm's, so it computes the same function with the released checkpoints' key layout."""
    return nn.Sequential(*ref.stem, *ref.blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), ref.head).eval()


def mmpretrain_layout():
    """mmpretrain's ConvMixer backbone and a Linear head, as an ImageClassifier saves them."""
    from mmpretrain.models.backbones import ConvMixer as MMPretrainConvMixer
    torch.manual_seed(0)
    arch = dict(embed_dims=TINY['embed_dim'], depth=TINY['depth'], patch_size=TINY['patch_size'],
                kernel_size=TINY['kernel_size'])
    backbone = randomize_norms(MMPretrainConvMixer(arch=arch, out_indices=-1))
    backbone.eval()  # its train() returns None
    head = nn.Linear(TINY['embed_dim'], 10)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state.update({f'head.fc.{k}': v for k, v in head.state_dict().items()})

    def forward(x):
        return head(backbone(x)[-1].mean((2, 3)))

    return state, forward


def source(layout: str):
    """(state dict in ``layout``, the source model's logits function)."""
    if layout == 'mmpretrain':
        return mmpretrain_layout()
    ref = timm_tiny()
    if layout == 'official':
        official = official_layout(ref)
        state = official.state_dict()
        depth = TINY['depth']
        assert {'0.weight', '2.running_var', '3.0.fn.0.weight', '3.0.fn.2.weight', '3.1.weight', '3.3.weight',
                f'{depth + 2}.3.bias', f'{depth + 5}.weight'} <= set(state)  # the documented layout
        return state, official
    return ref.state_dict(), ref


@pytest.mark.parametrize('layout', ['official', 'timm', 'mmpretrain'])
def test_layouts_convert_and_load_strictly(layout, tmp_path):
    state, forward = source(layout)
    backbone, head = split(convert_convmixer(state))
    ours = ConvMixer(arch=TINY, out_indices=-1).eval()
    ours.load_state_dict(backbone, strict=True)
    assert sorted(head) == ['head.fc.bias', 'head.fc.weight']
    x = torch.randn(2, 3, 56, 77)
    with torch.no_grad():
        torch.testing.assert_close(logits(ours, head, x), forward(x), rtol=1e-5, atol=1e-5)

    # through init_cfg, wrapped as each source saves it (timm's train.py pickles its argparse arguments)
    wrapped = {'official': {'state_dict': state, 'epoch': 149, 'args': argparse.Namespace(model='convmixer')},
               'timm': state, 'mmpretrain': {'state_dict': state, 'meta': {}}}[layout]
    path = tmp_path / 'ckpt.pth.tar'
    torch.save(wrapped, path)
    via_cfg = ConvMixer(arch=TINY, out_indices=-1, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    via_cfg.init_weights()
    for k, v in via_cfg.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]), k


def test_convert_is_identity_on_mmvg_layouts():
    for model in (ConvMixer(arch=TINY), PyramidConvMixer(arch=TINY_PYRAMID)):
        sd = model.state_dict()
        assert convert_convmixer(sd) == sd
        prefixed = {f'backbone.{k}': v for k, v in sd.items()}
        assert convert_convmixer(prefixed) == prefixed


def test_convert_refuses_missing_blocks():
    state = timm_tiny().state_dict()
    state = {k: v for k, v in state.items() if not k.startswith('blocks.2.')}
    with pytest.raises(ValueError, match='non-contiguous blocks'):
        convert_convmixer(state)


def test_official_checkpoint_into_the_wrong_arch_is_refused(tmp_path):
    path = tmp_path / 'official.pth.tar'
    torch.save({'state_dict': official_layout(timm_tiny()).state_dict()}, path)
    model = ConvMixer(arch=dict(TINY, embed_dim=24), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='wrong shape'):
        model.init_weights()


def test_converter_tool(tmp_path):
    src = tmp_path / 'convmixer_tiny.pth.tar'
    torch.save({'state_dict': official_layout(timm_tiny()).state_dict(), 'args': argparse.Namespace()}, src)
    dst = tmp_path / 'out' / 'convmixer_tiny_mmvg.pth'
    tool = ROOT / 'tools' / 'model_converters' / 'convmixer_to_mmvg.py'
    result = subprocess.run([sys.executable, str(tool), str(src), str(dst)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "'depth': 6" in result.stdout and "'patch_size': 7" in result.stdout, result.stdout
    converted = torch.load(dst, weights_only=False)['state_dict']
    ConvMixer(arch=TINY).load_state_dict(split(converted)[0], strict=True)
    assert sorted(split(converted)[1]) == ['head.fc.bias', 'head.fc.weight']


# -- inference path ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def module_path():
    """Run every module one by one (the training path): a global forward hook turns the inference path off."""
    handle = torch.nn.modules.module.register_module_forward_hook(lambda module, inputs, output: None)
    try:
        yield
    finally:
        handle.remove()


@pytest.fixture
def inference_calls(monkeypatch):
    """Counts the blocks run by the channels-last inference path."""
    calls = []
    forward_inference = ConvMixerBlock.forward_inference

    def counted(self, x, out=None):
        calls.append(self)
        return forward_inference(self, x, out)

    monkeypatch.setattr(ConvMixerBlock, 'forward_inference', counted)
    return calls


def assert_same_outputs(outs, ref, atol=1e-5):
    assert len(outs) == len(ref)
    for out, r in zip(outs, ref):
        assert out.shape == r.shape and out.dtype == r.dtype and out.is_contiguous()
        torch.testing.assert_close(out, r, rtol=1e-5, atol=atol)


INFERENCE_MODELS = {
    'isotropic': lambda: ConvMixer(arch=TINY),
    'isotropic-p14-relu': lambda: ConvMixer(arch=dict(TINY, patch_size=14, act_cfg=dict(type='ReLU'))),
    'pyramid': lambda: PyramidConvMixer(arch=TINY_PYRAMID, kernel_size=5),
}


@pytest.mark.parametrize('name', INFERENCE_MODELS)
@pytest.mark.parametrize('size', [(70, 84), (61, 97)])
def test_inference_path_computes_the_module_path(name, size, inference_calls):
    """Eval mode without autograd runs the channels-last in-place path: the same outputs (every stage, also the
    ones that later blocks' buffers could overwrite) up to float rounding, the input and state dict untouched."""
    torch.manual_seed(0)
    model = randomize_norms(INFERENCE_MODELS[name]()).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, *size)
    x_copy = x.clone()
    with torch.no_grad(), module_path():
        ref = model(x)
    assert not inference_calls
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            outs = model(x)
        assert_same_outputs(outs, ref)
    blocks = [m for m in model.modules() if isinstance(m, ConvMixerBlock)]
    assert inference_calls == blocks * 2
    assert torch.equal(x, x_copy)
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_inference_path_follows_every_weight_change():
    """Nothing derived from the weights is kept between calls: new weights by load_state_dict, by writes through
    ``.data`` (as mmengine's EMA makes them) and by a training step all show in the next eval-mode output."""
    torch.manual_seed(0)
    model = randomize_norms(ConvMixer(arch=TINY)).eval()
    x = torch.randn(2, 3, 56, 63)

    def check():
        with torch.no_grad():
            outs = model(x)
            with module_path():
                ref = model(x)
        assert_same_outputs(outs, ref)
        return outs[-1]

    before = check()
    model.load_state_dict(randomize_norms(ConvMixer(arch=TINY), seed=1).state_dict(), strict=True)
    loaded = check()
    assert not torch.allclose(before, loaded)
    block = model.stages[1].blocks[0]
    with torch.no_grad():
        block.norm1.running_var.data.mul_(2)
        block.norm2.weight.data.add_(0.5)
        block.pwconv.weight.data.mul_(-1)
    written = check()
    assert not torch.allclose(loaded, written)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    model(x)[-1].square().mean().backward()
    optimizer.step()
    model.eval()
    assert not torch.allclose(written, check())


def test_training_takes_the_module_path_and_updates_norms_as_timm(inference_calls):
    """In train mode, with or without gradients, BatchNorm uses batch statistics and updates its running ones exactly
    as timm's ConvMixer does; eval mode with gradients (e.g. saliency maps) also runs module by module."""
    ref = timm_tiny().train()
    ours = ConvMixer(arch=TINY).train()
    ours.load_state_dict(split(convert_convmixer(ref.state_dict()))[0], strict=True)
    x = torch.randn(2, 3, 56, 70)
    with torch.no_grad():
        ref.forward_features(x)
        ours(x)
    ours.eval()
    x.requires_grad_(True)
    ours(x)[-1].sum().backward()
    assert x.grad is not None and not inference_calls
    updated = ours.state_dict()
    expected = split(convert_convmixer(ref.state_dict()))[0]
    norms = [k for k in expected if 'running' in k or 'num_batches' in k]
    assert norms and all(torch.equal(updated[k], expected[k]) for k in norms)


def test_frozen_stages_run_the_inference_path_while_training(inference_calls):
    torch.manual_seed(0)
    model = randomize_norms(ConvMixer(arch=TINY, frozen_stages=2)).train()
    x = torch.randn(2, 3, 56, 70)
    outs = model(x)
    frozen = [b for stage in model.stages[:2] for b in stage.blocks]
    assert inference_calls == frozen
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is None for s in model.stages[:2] for p in s.parameters())
    assert all(p.grad is not None for s in model.stages[2:] for p in s.parameters())
    with torch.no_grad(), module_path():
        ref = model(x)
    assert_same_outputs([o.detach() for o in outs[:2]], ref[:2])
    # batch statistics of 2 x 8 x 10 positions scale the frozen stages' rounding differences up
    assert_same_outputs([o.detach() for o in outs[2:]], ref[2:], atol=1e-4)


@pytest.mark.parametrize('case', ['hook', 'autocast', 'group_norm', 'train_norm', 'tracing'])
def test_what_the_inference_path_cannot_promise_runs_module_by_module(case, inference_calls):
    torch.manual_seed(0)
    norm_cfg = dict(type='GN', num_groups=4) if case == 'group_norm' else dict(type='BN')
    model = ConvMixer(arch=TINY, out_indices=-1, norm_cfg=norm_cfg).eval()
    x = torch.randn(1, 3, 42, 49)
    seen = []
    if case == 'hook':  # a feature-extraction hook must see its module run
        model.stages[1].blocks[0].pwconv.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    if case == 'train_norm':  # e.g. a norm put back in train mode to recompute statistics
        model.stages[0].blocks[0].norm1.train()
    with torch.no_grad():
        if case == 'autocast':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                out = model(x)[0]
            assert out.dtype == torch.bfloat16
        elif case == 'tracing':
            torch.jit.trace(model, x, check_trace=False)
        else:
            model(x)
    by_modules = {'hook': [1], 'train_norm': [0]}.get(case, [0, 1, 2, 3])  # the stages that must run module by module
    assert inference_calls == [b for i, s in enumerate(model.stages) if i not in by_modules for b in s.blocks]
    if case == 'hook':
        assert seen == [torch.Size([1, 16, 6, 7])]


# -- variants ------------------------------------------------------------------------------------------------------
def test_depth_groups():
    assert convmixer_stage_depths(20) == [5, 5, 5, 5]
    assert convmixer_stage_depths(32) == [8, 8, 8, 8]
    assert convmixer_stage_depths(10) == [3, 3, 2, 2]
    model = ConvMixer(arch=dict(TINY, depth=10))
    assert [len(s.blocks) for s in model.stages] == [3, 3, 2, 2]
    assert model.out_strides == (7, 7, 7, 7)


@pytest.mark.parametrize('arch,params', [('1536/20', 51.63), ('768/32', 21.11), ('1024/20', 24.38)])
def test_isotropic_sizes_match_the_paper(arch, params):
    """Backbone plus the 1000-class Linear: the parameter counts of timm's models and mmpretrain's table."""
    model = ConvMixer(arch=arch)
    dim = model.out_channels[-1]
    assert round((sum(p.numel() for p in model.parameters()) + dim * 1000 + 1000) / 1e6, 2) == params


def test_arch_carries_its_activation():
    acts = {type(m) for m in ConvMixer(arch='768/32').modules() if isinstance(m, (nn.ReLU, nn.GELU))}
    assert acts == {nn.ReLU}
    acts = {type(m) for m in ConvMixer(arch=TINY).modules() if isinstance(m, (nn.ReLU, nn.GELU))}
    assert acts == {nn.GELU}
    model = ConvMixer(arch=dict(TINY, act_cfg=dict(type='ReLU')), act_cfg=dict(type='GELU'))
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward in mmengine's (fvcore's) convention: multiply-accumulates of Conv2d and Linear, one per
    two per element of an eval-mode BatchNorm; activations, additions and pooling uncounted."""
    total = 0

    def hook(m, inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features
        else:  # scale and shift
            total += 2 * out.numel()

    kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize('arch,params,flops,budget', [
    ('tiny', 10_704_360, 1.74, (10.7, 1.7)),  # PViG-Ti
    ('small', 27_226_600, 4.59, (27.3, 4.6)),  # PViG-S
    ('medium', 51_452_904, 8.81, (51.7, 8.9)),  # PViG-M
])
def test_pyramid_archs_match_pvig_budgets(arch, params, flops, budget):
    """The ImageNet classifier (backbone, pooling, 1000-class Linear) at 224x224, as the class docstring states."""
    backbone = PyramidConvMixer(arch=arch, out_indices=-1).eval()
    head = nn.Linear(backbone.out_channels[-1], 1000)
    n = sum(p.numel() for p in backbone.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == params
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        pooled = backbone(x)[-1].mean((2, 3))
    measured = count_flops(backbone, x) + count_flops(head, pooled)
    assert round(measured / 1e9, 2) == flops
    assert abs(n / 1e6 / budget[0] - 1) < 0.01 and abs(measured / 1e9 / budget[1] - 1) < 0.03


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch=dict(TINY, kernel_size=4)), 'odd'),
    (dict(arch=dict(TINY, depth=3)), 'depth must be an int >= 4'),
    (dict(arch=dict(TINY, patch_size=0)), 'patch_size'),
    (dict(arch=dict(TINY, mlp_ratio=4)), 'unknown keys'),
])
def test_bad_isotropic_arch_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvMixer(**kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(kernel_size=8), 'odd'),
    (dict(arch=dict(depths=[1, 1, 1], embed_dims=[8, 16, 32, 64])), 'one depth'),
    (dict(arch=dict(depths=[1, 0, 1, 1], embed_dims=[8, 16, 32, 64])), 'one depth'),
])
def test_bad_pyramid_arch_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PyramidConvMixer(**{'arch': TINY_PYRAMID, **kwargs})


def test_syncbn_ready():
    from mmengine.model import revert_sync_batchnorm
    for model in (ConvMixer(arch=TINY, norm_cfg=dict(type='SyncBN')),
                  PyramidConvMixer(arch=TINY_PYRAMID, norm_cfg=dict(type='SyncBN'))):
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert norms and all(isinstance(m, nn.SyncBatchNorm) for m in norms)
        model = revert_sync_batchnorm(model).train()  # what mmengine does on one device
        outs = model(torch.rand(2, 3, 64, 64))
        assert all(torch.isfinite(o).all() for o in outs)


# -- simple pyramid --------------------------------------------------------------------------------------------------
def pass_through(neck: SimplePyramid) -> SimplePyramid:
    """Identity 1x1 and centre-only 3x3 convs: the neck reduces to its resampling."""
    with torch.no_grad():
        c = neck.out_channels
        neck.lateral_conv.conv.weight.copy_(torch.eye(c)[:, :, None, None])
        neck.lateral_conv.conv.bias.zero_()
        for conv in neck.convs:
            conv.conv.weight.zero_()
            conv.conv.weight[:, :, 1, 1] = torch.eye(c)
            conv.conv.bias.zero_()
    return neck


@pytest.mark.parametrize('in_stride,h,w', [(7, 60, 90), (14, 31, 47)])
def test_simple_pyramid_keeps_cell_centres_on_each_strides_grid(in_stride, h, w):
    """Input cell j is centred on pixel (j + 0.5) * p; level s's cell i must be centred on (i + 0.5) * s. Feeding the
    centres themselves (rows in channel 0, columns in channel 1) through the resampling shows where cells land."""
    strides = (4, 8, 16, 32, 64)
    neck = pass_through(SimplePyramid(2, 2, in_stride=in_stride, out_strides=strides)).eval()
    rows = (torch.arange(h) + 0.5) * in_stride
    cols = (torch.arange(w) + 0.5) * in_stride
    x = torch.stack([rows[:, None].expand(h, w), cols[None, :].expand(h, w)])[None]
    with torch.no_grad():
        outs = neck((x, ))
    n0 = (h * in_stride // 4, w * in_stride // 4)
    for level, (out, s) in enumerate(zip(outs, strides)):
        assert out.shape[-2:] == tuple(math.ceil(n / 2**level) for n in n0)
        k = 2**level  # finest cells per cell of this level
        for axis, (n, n_in) in enumerate(zip(n0, (h, w))):
            # finest cells inside the input's first and last centres (bilinear clamps beyond them) ...
            inside = {j for j in range(n) if in_stride / 2 <= (j + 0.5) * 4 <= (n_in - 0.5) * in_stride}
            # ... and cells of this level whose finest footprint is whole and inside
            valid = [i for i in range(out.shape[2 + axis]) if set(range(i * k, (i + 1) * k)) <= inside]
            assert valid, (level, axis)
            centre = out[0, axis, :, 0] if axis == 0 else out[0, axis, 0, :]
            torch.testing.assert_close(centre[valid], (torch.tensor(valid) + 0.5) * s, rtol=0, atol=1e-3)


def test_simple_pyramid_shapes_gradients_and_errors():
    neck = SimplePyramid([32], 8, in_stride=14, out_strides=(4, 8, 16, 32))
    x = torch.rand(2, 32, 9, 13, requires_grad=True)
    outs = neck((x, ))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 31, 45), (2, 8, 16, 23), (2, 8, 8, 12), (2, 8, 4, 6)]
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in neck.parameters()) and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='one map'):
        SimplePyramid([8, 8], 8, in_stride=7)
    with pytest.raises(ValueError, match='twice the previous'):
        SimplePyramid(8, 8, in_stride=7, out_strides=(4, 8, 24))
    with pytest.raises(ValueError, match='at least the finest'):
        SimplePyramid(8, 8, in_stride=2)
    with pytest.raises(ValueError, match='one input map'):
        SimplePyramid(8, 8, in_stride=7)((torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4)))


# -- configs -----------------------------------------------------------------------------------------------------------
def _build(config: str, **backbone):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'convmixer' / config))
    cfg.model.backbone.update(backbone, init_cfg=None)
    cfg.model.neck.in_channels = [backbone['arch']['embed_dim']]
    init_default_scope(cfg.default_scope)
    registry = {'mmdet': 'mmdet.registry', 'mmseg': 'mmseg.registry'}[cfg.default_scope]
    return __import__(registry, fromlist=['MODELS']).MODELS.build(cfg.model).eval()


def test_isotropic_mask_rcnn_features_and_predictions():
    model = _build('mask_rcnn_convmixer_1536_20.py', arch=dict(TINY, embed_dim=32))
    x = torch.rand(1, 3, 96, 160)  # a 14 x 23 grid at stride 7
    with torch.no_grad():
        feats = model.extract_feat(x)
    assert [tuple(f.shape[-2:]) for f in feats] == [(24, 40), (12, 20), (6, 10), (3, 5), (2, 3)]
    assert all(stage.with_cp for stage in model.backbone.stages)


def test_isotropic_semantic_fpn_logits():
    model = _build('fpn_convmixer_1024_20_ade20k.py', arch=dict(TINY, embed_dim=32, patch_size=14))
    with torch.no_grad():
        seg = model(torch.rand(1, 3, 64, 96), mode='tensor')  # a 5 x 7 grid at stride 14
    assert seg.shape == (1, 150, 17, 24)  # stride 4: floor(5 * 3.5), floor(7 * 3.5)


def test_imagenet_recipe_is_the_authors_one_cycle():
    """lr / 20 -> 0.01 at 40% -> lr / 20 at 80% -> ~0, per iteration (the authors' schedule starts at 0)."""
    from mmengine.registry import PARAM_SCHEDULERS
    cfg = Config.fromfile(str(ROOT / 'configs' / 'convmixer' / 'convmixer_1536_20_in1k.py'))
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=0.01, eps=1e-3, weight_decay=2e-5)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0) and cfg.train_cfg.max_epochs == 150
    assert [a.alpha for a in cfg.model.train_cfg.augments] == [0.5, 0.5]
    rand_aug = [t for t in cfg.train_pipeline if t.type == 'RandAugment'][0]
    assert rand_aug.magnitude_level == 9
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=0.01)
    epoch_length = 4
    scheduler = PARAM_SCHEDULERS.build(cfg.param_scheduler,
                                       default_args=dict(optimizer=optimizer, epoch_length=epoch_length))
    lrs = []
    for _ in range(150 * epoch_length):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    total = len(lrs)
    assert lrs[0] == pytest.approx(0.01 / 20)
    assert max(lrs) == pytest.approx(0.01) and lrs.index(max(lrs)) == pytest.approx(0.4 * total, abs=2)
    assert lrs[int(0.8 * total)] == pytest.approx(0.01 / 20, rel=0.05)
    assert lrs[-1] < 1e-5
    cfg768 = Config.fromfile(str(ROOT / 'configs' / 'convmixer' / 'convmixer_768_32_in1k.py'))
    assert cfg768.train_cfg.max_epochs == cfg768.param_scheduler.total_steps == 300


@pytest.mark.slow
def test_demo_isotropic_mask_rcnn_trains_and_evaluates(tmp_path, monkeypatch):
    """The demo path (generated shapes, mmdet's runner and COCO metric) through ConvMixer + SimplePyramid."""
    from mmengine.runner import Runner

    from mmvg.apis import apply_demo
    monkeypatch.chdir(tmp_path)
    cfg = apply_demo(Config.fromfile(str(ROOT / 'configs' / 'convmixer' / 'mask_rcnn_convmixer_1536_20.py')),
                     num_train=8, num_val=4, img_size=(96, 128))
    cfg.model.backbone.arch = dict(TINY, embed_dim=32)
    cfg.model.neck.in_channels = [32]
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = cfg.default_hooks.checkpoint.interval = 4
    cfg.model.test_cfg.rcnn.score_thr = 0.  # keep every box: 4 steps from scratch may score none above 0.05
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {k: v.current() for k, v in runner.message_hub.log_scalars.items() if k.startswith('val/')}
    assert {'val/coco/bbox_mAP', 'val/coco/segm_mAP'} <= set(metrics)
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()
