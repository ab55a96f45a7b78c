"""Vision Permutator: the windowed permute-MLP and the whole network against an independent oracle of the official
semantics, checkpoint conversion, variant sizes and budgets, linear mixing cost, any input size."""
import copy
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from mmvg.models import VisionPermutator
from mmvg.models.layers import WeightedPermuteMLP, window_mix
from mmvg.models.utils import convert_vip

ROOT = Path(__file__).resolve().parents[1]
# official-style: patch 7, 2x2 downsampling after stage 0, at 224 the grids are 32 and 16 = segment_dims
TINY_OFFICIAL = dict(depths=[1, 2, 1, 1], embed_dims=[64, 96, 96, 96], segment_dims=[32, 16, 16, 16],
                     transitions=[True, False, False, False], patch_size=7)


# -- oracles ---------------------------------------------------------------------------------------------------
def oracle_axis_mix(x: torch.Tensor, weight: torch.Tensor, L: int, S: int, axis: int, shift: int = 0) -> torch.Tensor:
    """The official height (axis 1) / width (axis 2) mixing of a (B, H, W, C) map, one window of L positions at a
    time on the map zero-padded by ``shift`` positions before it and to whole windows after it: each window is
    mixed with ``weight`` viewed as (out pos, out ch, in pos, in ch) by an einsum, and the padding is cropped.
    Independent of window_mix's reshapes and sub-matrices."""
    B, H, W, C = x.shape
    N = x.shape[axis]
    total = -(-(N + shift) // L) * L
    pad = [0, 0] + ([0, 0, shift, total - N - shift] if axis == 1 else [shift, total - N - shift])
    padded = F.pad(x, pad)
    w4 = weight.reshape(L, S, L, S)
    out = torch.empty_like(padded)
    for start in range(0, total, L):
        part = padded.narrow(axis, start, L)
        part = part.reshape(*part.shape[:3], C // S, S)
        eq = 'pqhs,bhwgs->bpwgq' if axis == 1 else 'pqws,bhwgs->bhpgq'
        out.narrow(axis, start, L).copy_(torch.einsum(eq, w4, part).reshape(part.shape[:3] + (C, )))
    return out.narrow(axis, shift, N)


def oracle_permute_mlp(sd: dict, pre: str, x: torch.Tensor, L: int, shift: bool = False) -> torch.Tensor:
    """Official WeightedPermuteMLP.forward, restated from its official-layout weights (``{pre}mlp_h.weight`` ...),
    on windows of L (shifted by L // 2 along axes longer than L when ``shift``)."""
    B, H, W, C = x.shape
    S = sd[pre + 'mlp_h.weight'].shape[0] // L
    h = oracle_axis_mix(x, sd[pre + 'mlp_h.weight'], L, S, axis=1, shift=L // 2 if shift and H > L else 0)
    w = oracle_axis_mix(x, sd[pre + 'mlp_w.weight'], L, S, axis=2, shift=L // 2 if shift and W > L else 0)
    c = x @ sd[pre + 'mlp_c.weight'].T
    a = (h + w + c).permute(0, 3, 1, 2).flatten(2).mean(2)
    a = F.linear(F.gelu(F.linear(a, sd[pre + 'reweight.fc1.weight'], sd[pre + 'reweight.fc1.bias'])),
                 sd[pre + 'reweight.fc2.weight'], sd[pre + 'reweight.fc2.bias'])
    a = a.reshape(B, C, 3).permute(2, 0, 1).softmax(dim=0)[:, :, None, None, :]
    return F.linear(h * a[0] + w * a[1] + c * a[2], sd[pre + 'proj.weight'], sd[pre + 'proj.bias'])


def oracle_network(sd: dict, patch: int, windows, x: torch.Tensor) -> torch.Tensor:
    """The official VisionPermutator.forward on an official-layout state dict, with the image and every 2x2
    downsampling zero-padded to whole patches, windows ``windows[k]`` for the k-th block entry, and shifted windows
    in its odd blocks."""
    def ln(t, key):
        return F.layer_norm(t, t.shape[-1:], sd[key + '.weight'], sd[key + '.bias'])

    x = F.pad(x, (0, -x.shape[3] % patch, 0, -x.shape[2] % patch))
    x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=patch).permute(0, 2, 3, 1)
    entries = sorted({int(m.group(1)) for k in sd if (m := re.match(r'network\.(\d+)\.', k))})
    block_entry = 0
    for k in entries:
        if f'network.{k}.proj.weight' in sd:
            weight = sd[f'network.{k}.proj.weight']
            s = weight.shape[-1]
            y = x.permute(0, 3, 1, 2)
            y = F.pad(y, (0, -y.shape[3] % s, 0, -y.shape[2] % s))
            x = F.conv2d(y, weight, sd[f'network.{k}.proj.bias'], stride=s).permute(0, 2, 3, 1)
            continue
        j = 0
        while f'network.{k}.{j}.norm1.weight' in sd:
            pre = f'network.{k}.{j}.'
            x = x + oracle_permute_mlp(sd, pre + 'attn.', ln(x, pre + 'norm1'), windows[block_entry], j % 2 == 1)
            hidden = F.gelu(F.linear(ln(x, pre + 'norm2'), sd[pre + 'mlp.fc1.weight'], sd[pre + 'mlp.fc1.bias']))
            x = x + F.linear(hidden, sd[pre + 'mlp.fc2.weight'], sd[pre + 'mlp.fc2.bias'])
            j += 1
        block_entry += 1
    return F.linear(ln(x, 'norm').mean((1, 2)), sd['head.weight'], sd['head.bias'])


def official_layout(model: VisionPermutator, num_classes: int = 10) -> dict:
    """mmvg weights written in the official key layout (the inverse of the documented conversion), with a head."""
    index, entry = {}, 0
    for s, stage in enumerate(model.stages):
        if not isinstance(stage.downsample, nn.Identity):
            index[('down', s)] = entry
            entry += 1
        index[('blocks', s)] = entry
        entry += 1
    last = model.num_stages - 1
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith('stem.'):
            k = 'patch_embed.proj.' + k[len('stem.'):]
        elif m := re.match(r'stages\.(\d+)\.downsample\.(.*)', k):
            k = f'network.{index[("down", int(m.group(1)))]}.proj.{m.group(2)}'
        elif m := re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.*)', k):
            rest = re.sub(r'^mixer\.', 'attn.', m.group(3))
            k = f'network.{index[("blocks", int(m.group(1)))]}.{m.group(2)}.{rest}'
        elif k.startswith(f'norm{last}.'):
            k = 'norm.' + k[len(f'norm{last}.'):]
        out[k] = v
    out['head.weight'] = torch.randn(num_classes, model.out_channels[-1])
    out['head.bias'] = torch.randn(num_classes)
    return out


def randomise(model: nn.Module) -> nn.Module:
    """Weights large enough that every branch matters (softmax weights away from 1/3, LN affine not identity)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() == 1 else 1.5 / p[0].numel()**0.5))
    return model


# -- the layer -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('N,L,shift', [(N, L, shift) for N, L in [(8, 8), (24, 8), (13, 8), (5, 8), (1, 3), (3, 3)]
                                       for shift in (0, 1, 4) if shift < L])
@pytest.mark.parametrize('bias', [False, True])
def test_window_mix_matches_oracle(N, L, shift, bias):
    torch.manual_seed(0)
    S, C = 3, 12
    x = torch.randn(2, 5, N, C)
    weight, b = torch.randn(L * S, L * S), (torch.randn(L * S) if bias else None)
    expected = oracle_axis_mix(x, weight, L, S, axis=2, shift=shift)
    if bias:  # added at every valid position: the entry of its position in the window and its segment channel
        pos = (torch.arange(N) + shift) % L
        expected = expected + b.reshape(L, 1, S)[pos].expand(N, C // S, S).reshape(1, 1, N, C)
    torch.testing.assert_close(window_mix(x, weight, b, L, S, axis=2, shift=shift), expected, rtol=1e-5, atol=1e-5)
    xt = x.transpose(1, 2).contiguous()  # the same along the height
    torch.testing.assert_close(window_mix(xt, weight, b, L, S, axis=1, shift=shift), expected.transpose(1, 2),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('size', [(16, 16), (32, 48), (19, 7), (16, 37), (3, 5)])
@pytest.mark.parametrize('shift', [False, True])
def test_permute_mlp_matches_official_formula(size, shift):
    """At the trained size (16 x 16 for segment_dim 16) the official layer, shifted or not; elsewhere zero-padded
    windows, shifted by 8 along axes longer than 16 when ``shift``."""
    layer = randomise(WeightedPermuteMLP(64, segment_dim=16, shift=shift)).eval()
    sd = {k: v for k, v in layer.state_dict().items()}
    x = torch.randn(2, *size, 64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), oracle_permute_mlp(sd, '', x, L=16, shift=shift), rtol=1e-4,
                                   atol=1e-5)


def test_windows_are_independent_and_shifts_cross_them():
    """Rows of the first window do not see the second window (height mixing); a shifted layer after an unshifted
    one carries information across the border."""
    layer = WeightedPermuteMLP(32, segment_dim=8).eval()
    x = torch.randn(1, 20, 8, 32)
    y = x.clone()
    y[:, 8:] = torch.randn_like(y[:, 8:])

    def two_layers(t, shift):
        t = window_mix(t, layer.mlp_h.weight, None, 8, 4, axis=1)
        return window_mix(t, layer.mlp_h.weight, None, 8, 4, axis=1, shift=shift)

    with torch.no_grad():
        torch.testing.assert_close(two_layers(x, 0)[:, :8], two_layers(y, 0)[:, :8])
        assert not torch.allclose(two_layers(x, 4)[:, 4:8], two_layers(y, 4)[:, 4:8])
    with pytest.raises(ValueError, match='shift < window_size'):
        window_mix(x, layer.mlp_h.weight, None, 8, 4, axis=1, shift=8)


def test_shifted_blocks():
    model = VisionPermutator(arch=TINY_OFFICIAL)
    shifts = [[b.mixer.shift for b in stage.blocks] for stage in model.stages]
    assert shifts == [[False], [False, True], [False], [False]]
    model = VisionPermutator(arch=TINY_OFFICIAL, shift_windows=False)
    assert not any(b.mixer.shift for stage in model.stages for b in stage.blocks)


def test_window_size_argument():
    layer = WeightedPermuteMLP(64, segment_dim=16, window_size=6)
    assert layer.mlp_h.weight.shape == (6 * 4, 6 * 4) and layer.mlp_c.weight.shape == (64, 64)
    model = VisionPermutator(arch=TINY_OFFICIAL, window_size=(8, 4, 4, 4))
    assert model.window_sizes == (8, 4, 4, 4)
    assert model.stages[0].blocks[0].mixer.mlp_h.weight.shape == (8 * 2, 8 * 2)
    assert VisionPermutator(arch=TINY_OFFICIAL, window_size=5).window_sizes == (5, ) * 4
    with pytest.raises(ValueError, match='one value per stage'):
        VisionPermutator(arch=TINY_OFFICIAL, window_size=(8, 4))
    with pytest.raises(ValueError, match='window sizes must be ints >= 1'):
        VisionPermutator(arch=TINY_OFFICIAL, window_size=0)
    with pytest.raises(ValueError, match='divisible by segment_dim'):
        WeightedPermuteMLP(60, segment_dim=16)
    with pytest.raises(ValueError, match='embed_dims must be divisible by segment_dims'):
        VisionPermutator(arch={**TINY_OFFICIAL, 'segment_dims': [32, 16, 16, 7]})


# -- the network -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('arch', [
    TINY_OFFICIAL,
    dict(TINY_OFFICIAL, transitions=[False] * 4, embed_dims=[64] * 4, segment_dims=[16] * 4, patch_size=14),
    dict(TINY_OFFICIAL, transitions=[False, True, False, False], embed_dims=[64, 64, 96, 96],
         segment_dims=[32, 32, 16, 16]),
    dict(TINY_OFFICIAL, transitions=[False] * 4, embed_dims=[64, 96, 96, 96], segment_dims=[32] * 4),
], ids=['s7-like', 's14-like', 'm7-like', '1x1-downsample'])
@pytest.mark.parametrize('size', [(224, 224), (190, 251)], ids=['224', '190x251'])
def test_official_layout_converts_loads_strictly_and_matches_oracle(arch, size):
    src = randomise(VisionPermutator(arch=arch, out_indices=-1)).eval()
    official = official_layout(src)
    converted = convert_vip(official)
    assert converted['head.fc.weight'].shape == (10, arch['embed_dims'][-1])
    model = VisionPermutator(arch=arch, out_indices=-1).eval()
    model.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')},
                          strict=True)
    assert set(converted) == {'backbone.' + k for k in model.state_dict()} | {'head.fc.weight', 'head.fc.bias'}
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        feats = model(x)[0]
        logits = F.linear(feats.mean((2, 3)), converted['head.fc.weight'], converted['head.fc.bias'])
        expected = oracle_network(official, arch['patch_size'], arch['segment_dims'], x)
    assert expected.abs().max() > 1  # a strong signal: every branch and layer matters
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def test_official_checkpoint_through_init_cfg(tmp_path):
    src = randomise(VisionPermutator(arch=TINY_OFFICIAL, out_indices=-1))
    path = tmp_path / 'vip_official.pth'
    torch.save({'model': official_layout(src)}, path)  # bare or wrapped alike
    model = VisionPermutator(arch=TINY_OFFICIAL, out_indices=-1,
                             init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, src.state_dict()[k]), k
    # a checkpoint of another window length is refused with the shapes, not loaded partially
    other = VisionPermutator(arch=TINY_OFFICIAL, out_indices=-1, window_size=8,
                             init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='wrong shape'):
        other.init_weights()


def test_converter_leaves_other_layouts_alone():
    sd = {'backbone.stem.weight': torch.rand(1), 'backbone.stages.0.blocks.0.mixer.mlp_h.weight': torch.rand(1)}
    assert convert_vip(sd) == sd
    coc = {'network.0.0.token_mixer.f.weight': torch.rand(1), 'patch_embed.proj.weight': torch.rand(1)}
    assert convert_vip(coc) == coc


def test_converter_tool(tmp_path):
    import subprocess
    import sys
    src = randomise(VisionPermutator(arch=TINY_OFFICIAL, out_indices=-1))
    torch.save(official_layout(src), tmp_path / 'official.pth')  # bare, as the authors' files
    tool = str(ROOT / 'tools' / 'model_converters' / 'vip_to_mmvg.py')
    subprocess.run([sys.executable, tool, str(tmp_path / 'official.pth'), str(tmp_path / 'mmvg.pth')], check=True,
                   capture_output=True)
    model = VisionPermutator(arch=TINY_OFFICIAL, out_indices=-1,
                             init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mmvg.pth')))
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, src.state_dict()[k]), k
    again = subprocess.run([sys.executable, tool, str(tmp_path / 'mmvg.pth'), str(tmp_path / 'x.pth')],
                           capture_output=True, text=True)
    assert again.returncode == 1 and 'not in the official Vision Permutator layout' in again.stderr


@pytest.mark.parametrize('arch,params', [('s14', 29_892_904), ('s7', 25_114_984), ('m7', 55_272_488),
                                         ('l7', 87_784_936)])
def test_official_variant_sizes(arch, params):
    """Backbone plus a 1000-class head has exactly the official model's parameter count (README: 25M/55M/88M),
    and the official strides."""
    model = VisionPermutator(arch=arch)
    c = model.out_channels[-1]
    backbone = sum(p.numel() for n, p in model.named_parameters() if not re.match(r'norm[012]\.', n))
    assert backbone + c * 1000 + 1000 == params
    assert model.out_strides == {'s14': (14, ) * 4, 's7': (7, 14, 14, 14), 'm7': (7, 7, 14, 14),
                                 'l7': (7, 14, 14, 14)}[arch]
    assert model.window_sizes == tuple(model.arch_settings['segment_dims'])  # the official trained lengths


def classifier_macs(model: VisionPermutator, size=(224, 224)) -> float:
    """Multiply-adds of convolutions and linear layers (backbone + a 1000-class head), in G, counted on the meta
    device (no arithmetic)."""
    model = copy.deepcopy(model).to('meta')
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, *size, device='meta'))
    return (counter.get_total_flops() / 2 + model.out_channels[-1] * 1000) / 1e9


@pytest.mark.parametrize('arch,params,gmacs', [('tiny', 10.7, 1.7), ('small', 27.3, 4.6), ('medium', 51.7, 8.9)])
def test_pyramid_budgets(arch, params, gmacs):
    """The pyramid variants match PViG-Ti/S/M's parameters and FLOPs (as classifiers at 224) within 3%."""
    model = VisionPermutator(arch=arch, out_indices=-1).eval()
    c = model.out_channels[-1]
    measured_params = (sum(p.numel() for p in model.parameters()) + c * 1000 + 1000) / 1e6
    measured_macs = classifier_macs(model)
    assert measured_params == pytest.approx(params, rel=0.03)
    assert measured_macs == pytest.approx(gmacs, rel=0.03)
    assert model.out_strides == (32, )


def mixing_macs(layer: WeightedPermuteMLP, h: int, w: int) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(torch.rand(1, h, w, layer.dim))
    return counter.get_total_flops() // 2


def test_mixing_cost_is_linear_in_area():
    """The H/W mixing costs C * L * S multiply-adds per position and axis at any size (C**2 at L * S = C): the
    layer's cost is a * H * W + b, with b the per-image reweighting MLP."""
    layer = WeightedPermuteMLP(96, segment_dim=16)  # L = 16, S = 6
    C = 96
    per_image = C * C // 4 + C // 4 * 3 * C  # reweighting MLP on the pooled vector
    per_position = 3 * C * C + C * C  # (h, w: C * L * S each) + mlp_c + proj
    for h, w in [(16, 16), (32, 32), (64, 96), (208, 336)]:
        assert mixing_macs(layer, h, w) == per_position * h * w + per_image
    # partial windows (at the end, or at both ends when shifted) only save work
    assert mixing_macs(layer, 25, 42) <= per_position * 25 * 42 + per_image
    shifted = WeightedPermuteMLP(96, segment_dim=16, shift=True)
    assert mixing_macs(shifted, 16, 16) == per_position * 16 * 16 + per_image
    assert mixing_macs(shifted, 25, 42) <= per_position * 25 * 42 + per_image
    # the official layout at its own size costs the same
    assert per_position == 4 * C * C


@pytest.fixture(scope='module')
def tiny():
    return VisionPermutator(arch='tiny').eval()


def test_network_cost_is_linear_in_area(tiny):
    """Unshifted windows: exactly 4x the multiply-adds for 4x the positions (sizes of whole windows). Shifted
    windows leave partial windows at both ends of an axis, which cost less: never more than unshifted, and the
    share of partial windows shrinks as the map grows."""
    plain = copy.deepcopy(tiny)
    for m in plain.modules():
        if isinstance(m, WeightedPermuteMLP):
            m.shift = False
    small, large = classifier_macs(plain, (448, 448)), classifier_macs(plain, (896, 896))
    assert large / small == pytest.approx(4, rel=1e-3)
    shifted_small, shifted_large = classifier_macs(tiny, (448, 448)), classifier_macs(tiny, (896, 896))
    assert shifted_small <= small and shifted_large <= large
    assert shifted_large / shifted_small == pytest.approx(4, rel=0.02)


def test_full_pyramid_at_detection_size(tiny):
    with torch.no_grad():
        outs = tiny(torch.rand(1, 3, 800, 1333))
    assert [tuple(o.shape) for o in outs] == [(1, 48, 200, 334), (1, 96, 100, 167), (1, 240, 50, 84),
                                              (1, 384, 25, 42)]


def test_pyramid_is_global_at_224(tiny):
    """At 224 every pyramid stage is one window per axis, as the official layer at its trained size."""
    assert tiny.window_sizes == tuple(224 // s for s in tiny.out_strides) == (56, 28, 14, 7)


def test_stem_is_frozen_with_frozen_stages_0():
    model = VisionPermutator(arch=TINY_OFFICIAL, frozen_stages=0).train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.stages.parameters())


def test_bf16_autocast():
    model = VisionPermutator(arch=TINY_OFFICIAL).eval()
    x = torch.randn(1, 3, 70, 90)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
    assert all(o.dtype == torch.bfloat16 and torch.isfinite(o.float()).all() for o in outs)


# -- configs ---------------------------------------------------------------------------------------------------
CONFIGS = sorted((ROOT / 'configs' / 'vip').glob('*.py'))


def test_every_variant_has_its_configs():
    names = {p.name for p in CONFIGS}
    for v in ('tiny', 'small', 'medium'):
        assert {f'mask_rcnn_vip_{v}.py', f'fpn_vip_{v}_ade20k.py', f'vip_{v}_in1k.py'} <= names
    assert {'vip_s7_in1k.py', 'vip_m7_in1k.py', 'vip_l7_in1k.py'} <= names


@pytest.mark.parametrize('arch,crop', [('s7', 248), ('m7', 248), ('l7', 256)])
def test_official_recipe_configs(arch, crop):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'vip' / f'vip_{arch}_in1k.py'))
    assert cfg.model.backbone.arch == arch
    assert cfg.optim_wrapper.optimizer.lr == 2e-3 and cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 2048
    assert cfg.train_cfg.max_epochs == 310
    resize = next(t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'ResizeEdge')
    assert resize.scale == crop
    erase = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomErasing')
    assert erase.erase_prob == 0.25 and erase.mode == 'rand'


# -- the demo (real training through the upstream runners, on generated data) ---------------------------------------
TINY_PYRAMID = dict(depths=[1, 1, 1, 1], embed_dims=[16, 24, 32, 40], segment_dims=[16, 6, 4, 2],
                    transitions=[True, True, True, False], patch_size=4, window_sizes=[8, 4, 4, 2])


@pytest.mark.slow
@pytest.mark.parametrize('config', ['mask_rcnn_vip_tiny.py', 'fpn_vip_tiny_ade20k.py', 'vip_s7_in1k.py'])
def test_demo_trains_and_evaluates(config, tmp_path, monkeypatch):
    from mmengine.runner import Runner

    from mmvg.apis import apply_demo
    monkeypatch.chdir(tmp_path)
    cfg = apply_demo(Config.fromfile(str(ROOT / 'configs' / 'vip' / config)), num_train=8, num_val=4,
                     img_size=(96, 128))
    if cfg.default_scope == 'mmpretrain':
        cfg.model.backbone.arch = dict(TINY_OFFICIAL, embed_dims=[32, 48, 48, 48])
        cfg.model.head.in_channels = 48
    else:
        cfg.model.backbone.arch = TINY_PYRAMID
        cfg.model.neck.in_channels = TINY_PYRAMID['embed_dims']
    if cfg.default_scope == 'mmseg':
        cfg.model.data_preprocessor.size = (96, 128)
    if cfg.default_scope == 'mmdet':
        cfg.model.test_cfg.rcnn.score_thr = 0.  # keep every box: 3 steps from scratch may score none above 0.05
    # the demo's own model and data, with a few steps of whatever loop the demo schedule uses
    if cfg.train_cfg.get('type') == 'IterBasedTrainLoop' or 'max_iters' in cfg.train_cfg:
        cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 3
    else:
        cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3)]
    cfg.train_dataloader.batch_size = 2
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {k: v.current() for k, v in runner.message_hub.log_scalars.items() if k.startswith('val/')}
    key = {'mmdet': 'val/coco/bbox_mAP', 'mmseg': 'val/mIoU', 'mmpretrain': 'val/accuracy/top1'}[cfg.default_scope]
    assert key in metrics and metrics[key] >= 0
