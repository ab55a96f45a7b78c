"""Pyramid ViG: the chunked graph against brute-force oracles, the relative-position term against the official
formula, parity with mmpretrain's port, checkpoint layouts."""
import copy
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmvg.models import PyramidViG, ViG
from mmvg.models.layers import MaxRelativeGraphConv, knn_graph, max_relative, relative_position, sincos_embed_2d
from mmvg.models.layers import graph as graph_module
from mmvg.models.layers.graph import ConvNorm, conv_norm_chain, fit_neighbours
from mmvg.models.utils import convert_vig

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40])


# -- oracles ---------------------------------------------------------------------------------------------------
def official_relative_pos(dim: int, grid: int, r: int) -> torch.Tensor:
    """The official stored ``relative_pos`` (gcn_lib/pos_embed.py + Grapher.__init__), restated in numpy:
    2 P P^T / C of MAE's sin-cos embedding, resized as an image to (n, n // r^2), negated."""
    g = np.arange(grid, dtype=np.float32)
    cols, rows = np.meshgrid(g, g)  # 'xy' indexing: the first half of the embedding encodes the column

    def emb_1d(d, pos):
        omega = 1. / 10000**(np.arange(d // 2, dtype=np.float64) / (d / 2.))
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    pos = np.concatenate([emb_1d(dim // 2, cols), emb_1d(dim // 2, rows)], axis=1)
    rel = torch.from_numpy(np.float32(2 * pos @ pos.T / dim))[None, None]
    n = grid * grid
    return -F.interpolate(rel, size=(n, n // (r * r)), mode='bicubic', align_corners=False)[0, 0]


def window_means(x: torch.Tensor, r: int):
    """Keys of a (B, C, H, W) map pooled by r with partial last windows, and the mean position of each window."""
    B, C, H, W = x.shape
    keys, rows, cols = [], [], []
    for i in range(0, H, r):
        for j in range(0, W, r):
            keys.append(x[:, :, i:i + r, j:j + r].mean((2, 3)))
            rows.append((i + min(i + r, H) - 1) / 2)
            cols.append((j + min(j + r, W) - 1) / 2)
    return torch.stack(keys, -1), torch.tensor(rows, dtype=torch.float64), torch.tensor(cols, dtype=torch.float64)


def oracle_knn(x, y, k, d, bias=None):
    """Brute force in float64: normalise, full squared distances (+ bias), every d-th of the k*d nearest."""
    x = F.normalize(x.double(), dim=1)
    y = F.normalize(y.double(), dim=1)
    dist = torch.cdist(x.transpose(1, 2), y.transpose(1, 2)).square()
    if bias is not None:
        dist = dist + bias.double()
    return dist.topk(k * d, dim=-1, largest=False).indices[..., ::d]


def oracle_max_relative(x, y, idx):
    nbrs = torch.stack([y[b][:, idx[b]] for b in range(x.shape[0])])  # B, C, N, K
    return (nbrs - x[..., None]).max(-1).values


def same_sets(a, b):
    return torch.equal(a.sort(-1).values, b.sort(-1).values)


# -- graph -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('B,C,H,W,r,k,d,chunk_bytes', [
    (2, 16, 13, 17, 1, 9, 2, 4 * 2 * 221 * 7),  # 7 query rows per chunk: 221 is not a multiple
    (2, 16, 13, 17, 4, 5, 1, 1000),  # r > 1 on a grid not divisible by r: keys 4 x 5 with partial windows
    (1, 32, 25, 33, 2, 9, 2, 1),  # one query row per chunk
    (1, 24, 20, 28, 4, 9, 1, 2**30),  # one chunk
    (2, 8, 3, 3, 2, 9, 3, 100),  # fewer keys than k * d: k and dilation fitted
])
def test_chunked_knn_matches_brute_force(B, C, H, W, r, k, d, chunk_bytes):
    torch.manual_seed(0)
    x = torch.randn(B, C, H, W)
    y, _, _ = window_means(x, r) if r > 1 else (x.flatten(2), None, None)
    rel = relative_position(C, (H, W), r)
    nodes = x.flatten(2)
    keys = nodes if r == 1 else y
    chunked = knn_graph(nodes, keys, k, d, rel, chunk_bytes=chunk_bytes)
    dense = knn_graph(nodes, keys, k, d, rel, dense=True)
    kf, df = fit_neighbours(k, d, keys.shape[-1])
    oracle = oracle_knn(nodes, keys, kf, df, rel.dense())
    assert chunked.shape == (B, H * W, kf)
    assert same_sets(chunked, oracle)
    assert same_sets(dense, oracle)


def test_fit_neighbours():
    assert fit_neighbours(9, 3, 49) == (9, 3)
    assert fit_neighbours(9, 2, 16) == (9, 1)
    assert fit_neighbours(9, 3, 4) == (4, 1)


def test_knn_runs_in_fp32_under_autocast():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 300).bfloat16()
    y = torch.randn(1, 16, 40).bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        idx = knn_graph(x, y, 9, 2)
    assert same_sets(idx, oracle_knn(x.float(), y.float(), 9, 2))


@pytest.mark.parametrize('chunk_bytes', [1, 200, 2**30])
def test_max_relative_matches_brute_force(chunk_bytes):
    torch.manual_seed(0)
    B, C, N, M, K = 2, 6, 50, 20, 5
    x = torch.randn(B, C, N, dtype=torch.float64, requires_grad=True)
    y = torch.randn(B, C, M, dtype=torch.float64, requires_grad=True)
    idx = torch.stack([torch.stack([torch.randperm(M)[:K] for _ in range(N)]) for _ in range(B)])
    out = max_relative(x, y, idx, chunk_bytes)
    ref = oracle_max_relative(x, y, idx)
    torch.testing.assert_close(out, ref)
    grad = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (x, y), grad), torch.autograd.grad(ref, (x, y), grad)):
        torch.testing.assert_close(a, b)
    # a graph on x itself: both gradient paths reach x
    out = max_relative(x, x, idx, chunk_bytes)
    ref = oracle_max_relative(x, x, idx)
    torch.testing.assert_close(torch.autograd.grad(out, x, grad)[0], torch.autograd.grad(ref, x, grad)[0])


@pytest.mark.parametrize('size,r', [((13, 17), 4), ((9, 6), 2), ((7, 5), 1)])
def test_graph_conv_matches_oracle_on_any_grid(size, r):
    """The whole graph conv against a direct statement of its semantics: keys are the means of the (partial)
    windows, the relative term is -2/C <E(p), E(c)> with c the mean position of a window, the grouped conv sees
    x and max_j(x_j - x) interleaved."""
    torch.manual_seed(0)
    C = 16
    op = MaxRelativeGraphConv(C, 2 * C, k=4, dilation=2, reduce_ratio=r, knn_chunk_bytes=512).eval()
    x = torch.randn(2, C, *size)
    H, W = size
    keys, key_rows, key_cols = window_means(x, r)
    rows = torch.arange(H, dtype=torch.float64).repeat_interleave(W)
    cols = torch.arange(W, dtype=torch.float64).repeat(H)
    bias = -2 / C * sincos_embed_2d(C, rows, cols) @ sincos_embed_2d(C, key_rows, key_cols).T
    k, d = fit_neighbours(4, 2, keys.shape[-1])
    idx = oracle_knn(x.flatten(2), keys, k, d, bias)
    rel = oracle_max_relative(x.flatten(2), keys, idx)
    inter = torch.stack([x.flatten(2), rel], dim=2).reshape(2, 2 * C, H, W)
    with torch.no_grad():
        torch.testing.assert_close(op(x), op.proj(inter), rtol=1e-5, atol=1e-5)


# -- relative position -------------------------------------------------------------------------------------------
@pytest.mark.parametrize('dim,grid,r', [(48, 56, 4), (96, 28, 2), (240, 14, 1), (384, 7, 1), (80, 56, 4)])
def test_relative_position_equals_official_table_at_224(dim, grid, r):
    ref = official_relative_pos(dim, grid, r)
    ours = relative_position(dim, (grid, grid), r, pretrain_layout=True).dense()
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    if r == 1:  # no pooling: the geometric term is the official one
        torch.testing.assert_close(relative_position(dim, (grid, grid), r).dense(), ref, rtol=0, atol=1e-6)


def test_relative_position_is_geometric():
    """Away from the pre-training grid the term depends only on the displacement between a node and a key
    centre: the same for every window of a larger grid, unlike a resized flattened matrix."""
    dim, r = 32, 4
    rel = relative_position(dim, (40, 64), r).dense().reshape(40, 64, 10, 16)
    # node (5, 6) vs key (1, 1) is the same displacement as node (25, 46) vs key (6, 11)
    assert rel[5, 6, 1, 1] == pytest.approx(rel[25, 46, 6, 11].item(), abs=1e-6)
    # nearest key of every node is its own window
    nearest = rel.reshape(40 * 64, -1).argmin(-1).reshape(40, 64)
    rows, cols = torch.meshgrid(torch.arange(40), torch.arange(64), indexing='ij')
    assert torch.equal(nearest, (rows // r) * 16 + cols // r)


# -- mmpretrain parity and checkpoints -----------------------------------------------------------------------------
def randomize_(model: torch.nn.Module, size=(224, 224), seed: int = 0) -> torch.nn.Module:
    """Random BN affine parameters and position embedding, and BN statistics of the model's own activations on
    random images of ``size``, so that every layer sees O(1) values and parity means something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.reset_running_stats()
                m.momentum = None  # cumulative average
        pos_embed = model.pos_embed if hasattr(model, 'pos_embed') else model.stem.pos_embed  # mmpretrain, mmvg
        pos_embed.normal_(0, 0.1, generator=g)
        model.train()
        model(torch.randn(2, 3, *size, generator=g))
    model.eval()  # mmpretrain's train() returns None
    return model


def backbone_keys(state_dict):
    assert all(k.startswith('backbone.') for k in state_dict), sorted(state_dict)[:5]
    return {k[len('backbone.'):]: v for k, v in state_dict.items()}


def assert_parity_with_reference(ours, ref, x, vig_module):
    """``ours`` gives ``ref``'s features (max abs diff <= 1e-4), and at every block its own graph is ``ref``'s up to
    near-ties.

    Two correct fp32 implementations pick different neighbours where two candidate distances are within their
    rounding error (~1e-7; mmpretrain's relative-position tables alone differ from the official ones by up to 6e-7),
    and a random-weight network at 224 has a few such near-ties per forward. So the reference's neighbours are
    recorded and used by ``ours`` too, and ours are checked against them block by block on the same input: every
    query's neighbours must have the same float64 distances (1e-5), and sets may differ at 2% of queries at most.
    """
    ref_graphs = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: ref_graphs.append(out[0]))
             for m in ref.modules() if isinstance(m, vig_module.DenseDilatedKnnGraph)]
    with torch.no_grad():
        ref_outs = ref(x)
    for h in hooks:
        h.remove()
    convs = [m for m in ours.modules() if isinstance(m, MaxRelativeGraphConv)]
    assert len(convs) == len(ref_graphs)
    checked = []

    def with_reference_graph(conv, ref_idx):
        own_build_graph = conv.build_graph

        def build_graph(feat):
            keys, idx = own_build_graph(feat)
            assert idx.shape == ref_idx.shape
            B, C, H, W = feat.shape
            nodes = F.normalize(feat.flatten(2).double(), dim=1)
            dist = torch.cdist(nodes.transpose(1, 2), F.normalize(keys.double(), dim=1).transpose(1, 2)).square()
            if conv.relative_pos:
                dist += relative_position(C, (H, W), conv.reduce_ratio, (H, W) == conv.pretrain_size).dense()
            torch.testing.assert_close(dist.gather(2, idx).sort(-1).values, dist.gather(2, ref_idx).sort(-1).values,
                                       rtol=0, atol=1e-5)
            differ = (idx.sort(-1).values != ref_idx.sort(-1).values).any(-1).float().mean().item()
            assert differ <= 0.02, differ
            checked.append(differ)
            return keys, ref_idx

        conv.build_graph = build_graph

    for conv, ref_idx in zip(convs, ref_graphs):
        with_reference_graph(conv, ref_idx)
    with torch.no_grad():
        outs = ours(x)
    assert len(checked) == len(convs) and len(outs) == len(ref_outs)
    for a, b in zip(outs, ref_outs):
        assert a.shape == b.shape
        assert b.abs().mean() > 0.1  # O(1) features: the tolerance is not vacuous
        assert (a - b).abs().max().item() <= 1e-4


def test_parity_with_mmpretrain_pyramid_vig():
    vig_module = pytest.importorskip('mmpretrain.models.backbones.vig')
    torch.manual_seed(0)
    ref = randomize_(vig_module.PyramidVig(arch='tiny', out_indices=[0, 1, 2, 3]))
    ours = PyramidViG(arch='tiny').eval()
    ours.load_state_dict(backbone_keys(convert_vig(ref.state_dict())), strict=True)
    assert_parity_with_reference(ours, ref, torch.randn(1, 3, 224, 224), vig_module)


def test_parity_with_mmpretrain_vig():
    vig_module = pytest.importorskip('mmpretrain.models.backbones.vig')
    torch.manual_seed(0)
    ref = randomize_(vig_module.Vig(arch='tiny'))
    ours = ViG(arch='tiny').eval()
    ours.load_state_dict(backbone_keys(convert_vig(ref.state_dict())), strict=True)
    assert_parity_with_reference(ours, ref, torch.randn(1, 3, 224, 224), vig_module)


def to_official(model: PyramidViG) -> dict:
    """An official-layout PViG state dict written from the documented layout (reference §1.6): stem.convs.{0,1,3,
    4,6,7}, pos_embed, backbone.{j} numbering blocks and downsamplers together, relative_pos tables, prediction."""
    sd, out, j = model.state_dict(), {}, 0
    out['pos_embed'] = sd['stem.pos_embed']
    for i in range(3):
        for sub, off in (('conv', 0), ('norm', 1)):
            for k, v in sd.items():
                if k.startswith(f'stem.{i}.{sub}.'):  # stem.{i}.{conv,norm}.*
                    out[f'stem.convs.{3 * i + off}.' + k.split('.', 3)[3]] = v
    parts = {'grapher.fc1.conv.': '0.fc1.0.', 'grapher.fc1.norm.': '0.fc1.1.', 'grapher.fc2.conv.': '0.fc2.0.',
             'grapher.fc2.norm.': '0.fc2.1.', 'grapher.graph_conv.proj.conv.': '0.graph_conv.gconv.nn.0.',
             'grapher.graph_conv.proj.norm.': '0.graph_conv.gconv.nn.1.', 'ffn.fc1.conv.': '1.fc1.0.',
             'ffn.fc1.norm.': '1.fc1.1.', 'ffn.fc2.conv.': '1.fc2.0.', 'ffn.fc2.norm.': '1.fc2.1.'}
    n = 56 * 56
    for s, depth in enumerate(model.arch_settings['depths']):
        if s > 0:
            for k, v in sd.items():
                if k.startswith(f'stages.{s}.downsample.'):
                    sub = k[len(f'stages.{s}.downsample.'):]
                    out[f'backbone.{j}.conv.{0 if sub.startswith("conv.") else 1}.' + sub.split('.', 1)[1]] = v
            j += 1
            n //= 4
        for b in range(depth):
            prefix = f'stages.{s}.blocks.{b}.'
            for k, v in sd.items():
                if k.startswith(prefix):
                    rest = k[len(prefix):]
                    old = next(o for o in parts if rest.startswith(o))
                    out[f'backbone.{j}.{parts[old]}{rest[len(old):]}'] = v
            r = [4, 2, 1, 1][s]
            out[f'backbone.{j}.0.relative_pos'] = torch.rand(1, n, n // r**2)
            j += 1
    c = model.arch_settings['embed_dims'][-1]
    out.update({'prediction.0.weight': torch.rand(1024, c, 1, 1), 'prediction.0.bias': torch.rand(1024),
                'prediction.1.weight': torch.rand(1024), 'prediction.1.bias': torch.rand(1024),
                'prediction.1.running_mean': torch.rand(1024), 'prediction.1.running_var': torch.rand(1024),
                'prediction.1.num_batches_tracked': torch.tensor(3), 'prediction.4.weight': torch.rand(10, 1024, 1, 1),
                'prediction.4.bias': torch.rand(10)})
    return out


@pytest.mark.parametrize('wrap', [None, 'model', 'state_dict'])
def test_official_checkpoint_loads_strictly(wrap, tmp_path):
    torch.manual_seed(0)
    src = randomize_(PyramidViG(arch=TINY), size=(64, 64))
    official = to_official(src)
    assert sum(k.endswith('relative_pos') for k in official) == 5
    converted = convert_vig(official)
    assert converted['head.fc1.weight'].shape == (1024, 40) and converted['head.fc2.weight'].shape == (10, 1024)
    assert set(converted) == {'backbone.' + k for k in src.state_dict()} | {
        'head.fc1.weight', 'head.fc1.bias', 'head.bn.weight', 'head.bn.bias', 'head.bn.running_mean',
        'head.bn.running_var', 'head.bn.num_batches_tracked', 'head.fc2.weight', 'head.fc2.bias'}
    PyramidViG(arch=TINY).load_state_dict(backbone_keys({k: v for k, v in converted.items()
                                                         if k.startswith('backbone.')}), strict=True)
    path = tmp_path / 'pvig.pth.tar'
    torch.save(official if wrap is None else {wrap: official, 'epoch': 300}, path)
    dst = PyramidViG(arch=TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_official_isotropic_vig_checkpoint_loads_strictly():
    """Official ViG layout: stem.convs.{0,1,3,4,...,12,13}, pos_embed, backbone.{i}.{0,1}, no downsampling."""
    src = ViG(arch=dict(depth=3, embed_dim=32))
    parts = {'grapher.fc1.conv.': '0.fc1.0.', 'grapher.fc1.norm.': '0.fc1.1.', 'grapher.fc2.conv.': '0.fc2.0.',
             'grapher.fc2.norm.': '0.fc2.1.', 'grapher.graph_conv.proj.conv.': '0.graph_conv.gconv.nn.0.',
             'grapher.graph_conv.proj.norm.': '0.graph_conv.gconv.nn.1.', 'ffn.fc1.conv.': '1.fc1.0.',
             'ffn.fc1.norm.': '1.fc1.1.', 'ffn.fc2.conv.': '1.fc2.0.', 'ffn.fc2.norm.': '1.fc2.1.'}
    official = {}
    for k, v in src.state_dict().items():
        if k == 'stem.pos_embed':
            official['pos_embed'] = v
        elif k.startswith('stem.'):
            _, i, sub, rest = k.split('.', 3)
            official[f'stem.convs.{3 * int(i) + (sub == "norm")}.{rest}'] = v
        else:
            _, _, _, block, rest = k.split('.', 4)
            old = next(o for o in parts if rest.startswith(o))
            official[f'backbone.{block}.{parts[old]}{rest[len(old):]}'] = v
    dst = ViG(arch=dict(depth=3, embed_dim=32))
    dst.load_state_dict(backbone_keys(convert_vig(official)), strict=True)
    assert all(torch.equal(dst.state_dict()[k], v) for k, v in src.state_dict().items())


def test_converter_tool(tmp_path):
    torch.manual_seed(0)
    src = randomize_(PyramidViG(arch=TINY), size=(64, 64))
    torch.save({'model': to_official(src)}, tmp_path / 'official.pth')
    subprocess.run([sys.executable, str(ROOT / 'tools/model_converters/vig_to_mmvg.py'), str(tmp_path / 'official.pth'),
                    str(tmp_path / 'mmvg.pth')], check=True, cwd=ROOT, capture_output=True)
    state_dict = torch.load(tmp_path / 'mmvg.pth', weights_only=True)['state_dict']
    dst = PyramidViG(arch=TINY)
    dst.load_state_dict(backbone_keys({k: v for k, v in state_dict.items() if k.startswith('backbone.')}),
                        strict=True)
    assert all(torch.equal(dst.state_dict()[k], v) for k, v in src.state_dict().items())


# -- sizes and options ---------------------------------------------------------------------------------------------
def test_any_size_and_dense_knn_reference():
    """Odd and non-square inputs (the official model and mmpretrain's run only at 224), with the chunked graph
    equal to the dense reference."""
    torch.manual_seed(0)
    model = randomize_(PyramidViG(arch=TINY, knn_chunk_bytes=2**16), size=(64, 64))  # tens of chunks per block
    dense = PyramidViG(arch=TINY, dense_knn=True).eval()
    dense.load_state_dict(model.state_dict())
    for size in [(256, 320), (37, 250)]:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            outs, refs = model(x), dense(x)
        grids = [(math.ceil(size[0] / s), math.ceil(size[1] / s)) for s in (4, 8, 16, 32)]
        assert [tuple(o.shape[-2:]) for o in outs] == grids
        for a, b in zip(outs, refs):
            torch.testing.assert_close(a, b)


def test_position_embedding_is_stored_at_pretrain_size_and_resized():
    model = randomize_(PyramidViG(arch=TINY, pretrain_img_size=(224, 160)), size=(64, 64))
    pos_embed = model.stem.pos_embed
    assert pos_embed.shape == (1, 16, 56, 40)
    convs = torch.nn.Sequential(*model.stem)
    x = torch.rand(1, 3, 224, 160)
    torch.testing.assert_close(model.stem(x), convs(x) + pos_embed)
    x = torch.rand(1, 3, 100, 60)
    resized = F.interpolate(pos_embed, size=(25, 15), mode='bicubic', align_corners=False)
    torch.testing.assert_close(model.stem(x), convs(x) + resized)


def test_frozen_stem_freezes_position_embedding():
    assert not PyramidViG(arch=TINY, frozen_stages=0).stem.pos_embed.requires_grad
    assert PyramidViG(arch=TINY).stem.pos_embed.requires_grad


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch=dict(depths=[1, 1, 1, 1], embed_dims=[16, 24, 30, 40])), 'divisible by 4'),
    (dict(arch=TINY, reduce_ratios=(4, 2, 1)), 'reduce_ratio'),
    (dict(arch=TINY, k=0), 'must be >= 1'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PyramidViG(**kwargs)


def test_vig_isotropic_shapes():
    model = ViG(arch=dict(depth=2, embed_dim=32)).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 97, 131))
    assert out.shape == (1, 32, 7, 9)
    assert [b.grapher.graph_conv.k for b in model.stages[0].blocks] == [9, 18]


# -- norm + activation recomputed in the backward pass -------------------------------------------------------------
def saved_bytes(fn, batch=2):
    """Output of ``fn()`` and the bytes of the per-sample tensors (``batch`` first, three or more dims: not
    parameters nor per-channel statistics) autograd keeps for its backward pass, distinct storages counted once."""
    storages = {}

    def pack(t):
        if t.dim() >= 3 and t.shape[0] == batch:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(storages.values())


def plain(monkeypatch):
    """Run the layers as they are: the reference for conv_norm_chain."""
    monkeypatch.setattr(graph_module, '_recomputable', lambda *args: False)


class Chain(torch.nn.Sequential):
    """ConvNorm layers run by conv_norm_chain; ``nn.Sequential(*chain)`` is the plain reference."""

    def forward(self, x):
        return conv_norm_chain(x, *self)


def run_and_grads(model, x, autocast=False):
    model.zero_grad()
    x = x.detach().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs, )
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(i)) for i, o in enumerate(outs)]
    sum((o.float() * w).sum() for o, w in zip(outs, weights)).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return [o.detach().float() for o in outs], dict(grads, input=x.grad), {k: v.clone() for k, v in
                                                                           model.state_dict().items()}


def assert_same_run(a, b, tol=1e-5):
    (outs_a, grads_a, state_a), (outs_b, grads_b, state_b) = a, b
    for u, v in zip(outs_a, outs_b):
        torch.testing.assert_close(u, v, rtol=tol, atol=tol)
    assert grads_a.keys() == grads_b.keys()
    for k in grads_a:
        torch.testing.assert_close(grads_a[k], grads_b[k], rtol=tol, atol=tol, msg=k)
    for k in state_a:  # running statistics updated once, as the plain layers do
        torch.testing.assert_close(state_a[k], state_b[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize('act_cfg,kernel,stride,groups', [
    (dict(type='GELU'), 1, 1, 1),
    (dict(type='GELU', approximate='tanh'), 3, 2, 2),
    (dict(type='ReLU', inplace=True), 3, 1, 1),
    (None, 1, 1, 4),  # norm without activation
])
@pytest.mark.parametrize('training', [True, False])
def test_conv_norm_chain_equals_plain_layers_in_less_memory(act_cfg, kernel, stride, groups, training):
    torch.manual_seed(0)
    chain = Chain(ConvNorm(8, 16, 3, act_cfg=act_cfg), ConvNorm(16, 12, kernel, stride, groups))
    randomize_bn_(chain)
    chain.train(training)
    ref = torch.nn.Sequential(*copy.deepcopy(chain))
    x = torch.randn(2, 8, 13, 11)
    assert_same_run(run_and_grads(chain, x), run_and_grads(ref, x))
    _, fused_bytes = saved_bytes(lambda: chain(x.requires_grad_()))
    _, plain_bytes = saved_bytes(lambda: ref(x))
    # plain keeps the first norm's input and output (and the activation's output unless it is in place or
    # absent); fused only its input: one or two 16 x 13 x 11 maps of 2 samples less
    maps = 2 * 16 * 13 * 11 * 4
    expected = maps if act_cfg is None or act_cfg.get('inplace') else 2 * maps
    assert plain_bytes - fused_bytes == expected


def randomize_bn_(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)


def test_conv_norm_chain_gradcheck():
    torch.manual_seed(0)
    layers = [ConvNorm(3, 4, 3, act_cfg=dict(type='GELU')), ConvNorm(4, 5, 3, 2)]
    for m in layers:
        m.double()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    params = [p for m in layers for p in m.parameters()]

    def fn(x, *ps):
        return conv_norm_chain(x, *layers)  # the parameters are the modules' own

    assert torch.autograd.gradcheck(fn, (x, *params))
    layers[0].eval()
    assert torch.autograd.gradcheck(fn, (x, *params))


@pytest.mark.parametrize('kwargs,mode', [
    (dict(), 'train'),
    (dict(norm_eval=True), 'train'),  # BN in eval mode while training
    (dict(), 'eval'),
    (dict(with_cp=True, drop_path_rate=0.2), 'train'),
    (dict(frozen_stages=1), 'train'),
])
def test_pyramid_vig_recomputation_equals_plain(kwargs, mode, monkeypatch):
    """The whole network with fused norm + activation + conv pieces against its plain layers: same outputs,
    input and parameter gradients (1e-5) and BN statistics, in less memory."""
    torch.manual_seed(0)
    model = randomize_(PyramidViG(arch=TINY, **kwargs), size=(64, 64)).train(mode == 'train')
    ref = copy.deepcopy(model)
    x = torch.randn(2, 3, 61, 83)
    torch.manual_seed(1)  # stochastic depth draws the same masks
    fused = run_and_grads(model, x)
    _, fused_bytes = saved_bytes(lambda: model(x.requires_grad_()))
    plain(monkeypatch)
    torch.manual_seed(1)
    assert_same_run(fused, run_and_grads(ref, x))
    if not kwargs.get('with_cp'):
        _, plain_bytes = saved_bytes(lambda: ref(x))
        assert fused_bytes < 0.75 * plain_bytes, (fused_bytes, plain_bytes)


def test_pyramid_vig_recomputation_under_autocast(monkeypatch):
    """bf16 autocast: the recomputed pieces run in the forward's dtypes, so results equal the plain layers'."""
    torch.manual_seed(0)
    model = randomize_(PyramidViG(arch=TINY), size=(64, 64)).train()
    ref = copy.deepcopy(model)
    x = torch.randn(1, 3, 64, 96)
    fused = run_and_grads(model, x, autocast=True)
    plain(monkeypatch)
    assert_same_run(fused, run_and_grads(ref, x, autocast=True))


def test_recomputation_falls_back_for_other_norms_and_inference():
    x = torch.randn(1, 8, 5, 5, requires_grad=True)
    conv = torch.nn.Conv2d(8, 8, 1)
    assert graph_module._recomputable(x, torch.nn.BatchNorm2d(8), torch.nn.GELU(), conv)
    assert not graph_module._recomputable(x, torch.nn.SyncBatchNorm(8), torch.nn.GELU(), conv)
    assert not graph_module._recomputable(x, torch.nn.GroupNorm(2, 8), torch.nn.GELU(), conv)
    assert not graph_module._recomputable(x, torch.nn.BatchNorm2d(8), torch.nn.PReLU(), conv)
    with torch.no_grad():
        assert not graph_module._recomputable(x, torch.nn.BatchNorm2d(8), torch.nn.GELU(), conv)
    model = PyramidViG(arch=TINY, norm_cfg=dict(type='SyncBN')).eval()  # SyncBN runs as it is
    outs = model(torch.randn(1, 3, 32, 32))
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
