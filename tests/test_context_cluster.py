"""Context Clusters: the cluster op against an independent oracle of the official semantics, checkpoint layouts,
variants."""
import math
import re

import pytest
import torch
import torch.nn.functional as F

from mmvg.models import ContextCluster
from mmvg.models.layers import Cluster
from mmvg.models.utils import convert_coc


def oracle_cluster(op: Cluster, x: torch.Tensor) -> torch.Tensor:
    """The official clustering written out point by point: regions of ceil(size / fold) (the last ones partial),
    centres averaged over the valid points of each adaptive-pooling bin, hard assignment, broadcast aggregation and
    dispatch. Independent of Cluster's padding, masking and matrix products."""
    B, _, H, W = x.shape
    e, d = op.num_heads, op.head_dim
    feat = op.f(x).reshape(B, e, d, H, W)
    value = op.v(x).reshape(B, e, d, H, W)
    (fh, fw), (ph, pw) = op.fold, op.proposal_size
    rh, rw = math.ceil(H / fh), math.ceil(W / fw)
    out = torch.zeros_like(feat)
    for b in range(B):
        for h in range(e):
            for y0 in range(0, H, rh):
                for x0 in range(0, W, rw):
                    y1, x1 = min(y0 + rh, H), min(x0 + rw, W)
                    cen, vcen = [], []
                    for i in range(ph):
                        for j in range(pw):
                            rs, re_ = y0 + (i * rh) // ph, min(y0 + -(-(i + 1) * rh // ph), H)
                            cs, ce = x0 + (j * rw) // pw, min(x0 + -(-(j + 1) * rw // pw), W)
                            f_bin = feat[b, h, :, rs:re_, cs:ce].reshape(d, -1)
                            v_bin = value[b, h, :, rs:re_, cs:ce].reshape(d, -1)
                            cen.append(f_bin.mean(1) if f_bin.numel() else torch.zeros(d))
                            vcen.append(v_bin.mean(1) if v_bin.numel() else torch.zeros(d))
                    cen, vcen = torch.stack(cen), torch.stack(vcen)  # M, d
                    pts = feat[b, h, :, y0:y1, x0:x1].reshape(d, -1).T  # N, d
                    vals = value[b, h, :, y0:y1, x0:x1].reshape(d, -1).T
                    cos = F.cosine_similarity(cen[:, None, :], pts[None, :, :], dim=-1, eps=1e-12)
                    sim = torch.sigmoid(op.sim_beta + op.sim_alpha * cos)  # M, N
                    sim = sim * F.one_hot(sim.argmax(0), sim.shape[0]).T
                    agg = ((vals[None] * sim[..., None]).sum(1) + vcen) / (sim.sum(1, keepdim=True) + 1)
                    res = (agg[:, None, :] * sim[..., None]).sum(0)  # N, d
                    out[b, h, :, y0:y1, x0:x1] = res.T.reshape(d, y1 - y0, x1 - x0)
    return op.proj(out.reshape(B, e * d, H, W))


@pytest.mark.parametrize('size,fold,proposal', [
    ((16, 16), 4, 2),  # divisible: the official computation exactly
    ((14, 21), 7, 2),
    ((13, 17), 4, 2),  # padded regions
    ((9, 5), 8, 2),  # fewer rows than folds
    ((11, 23), 2, 5),  # 25 centres in partial regions
    ((6, 7), 1, 7),  # more centres than points
])
def test_cluster_matches_oracle(size, fold, proposal):
    torch.manual_seed(0)
    op = Cluster(12, num_heads=2, head_dim=6, proposal_size=proposal, fold=fold)
    with torch.no_grad():
        op.sim_alpha.fill_(2.5)
        op.sim_beta.fill_(-0.3)
    x = torch.randn(2, 12, *size)
    with torch.no_grad():
        torch.testing.assert_close(op(x), oracle_cluster(op, x), rtol=1e-4, atol=1e-5)


def test_cluster_padding_does_not_leak():
    """Valid outputs depend only on valid inputs: changing the map's right part changes nothing on the left
    regions (fold 2 splits 13 columns into 7 + 6)."""
    torch.manual_seed(0)
    op = Cluster(8, num_heads=2, head_dim=4, proposal_size=2, fold=(1, 2)).eval()
    x = torch.randn(1, 8, 9, 13)
    y = x.clone()
    y[..., 7:] = torch.randn_like(y[..., 7:])
    with torch.no_grad():
        torch.testing.assert_close(op(x)[..., :7], op(y)[..., :7])


def test_cluster_bf16_autocast():
    op = Cluster(16, num_heads=2, head_dim=8, proposal_size=2, fold=2)
    x = torch.randn(1, 16, 15, 11)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = op(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    torch.testing.assert_close(out.float(), op(x), rtol=0.05, atol=0.05)


def test_position_channels_match_official_definition():
    x = torch.zeros(2, 3, 5, 9)
    pos = ContextCluster.position_channels(x)
    assert pos.shape == (2, 2, 5, 9)
    rows = torch.arange(5) / 4 - 0.5
    cols = torch.arange(9) / 8 - 0.5
    torch.testing.assert_close(pos[0, 0], rows[:, None].expand(5, 9))
    torch.testing.assert_close(pos[1, 1], cols[None, :].expand(5, 9))


@pytest.mark.parametrize('arch,params', [('tiny', 5_570_584), ('small', 14_657_024), ('medium', 29_290_520)])
def test_variant_sizes_match_official(arch, params):
    """Backbone plus a 1000-class head has exactly the official model's parameter count (the README's
    5.3M / 14.0M / 27.9M are these counts in units of 2**20)."""
    model = ContextCluster(arch=arch, out_indices=-1)
    c = model.out_channels[-1]
    assert sum(p.numel() for p in model.parameters()) + c * 1000 + 1000 == params
    assert round(params / 2**20, 1) == {'tiny': 5.3, 'small': 14.0, 'medium': 27.9}[arch]


def test_proposal_size_override():
    model = ContextCluster(arch='small', proposal_size=5)
    mixers = [m for m in model.modules() if isinstance(m, Cluster)]
    assert len(mixers) == 12 and all(m.proposal_size == (5, 5) for m in mixers)
    assert [m.fold for m in mixers[:2]] == [(8, 8), (8, 8)]
    with pytest.raises(ValueError, match='proposal_size'):
        ContextCluster(arch='small', proposal_size=(2, 5))


# --- checkpoint layouts ------------------------------------------------------------------------------------------
TINY = dict(depths=[1, 2, 1, 1], embed_dims=[16, 24, 32, 40], num_heads=[2, 2, 2, 2], head_dims=[8] * 4,
            mlp_ratios=[2, 2, 2, 2], proposal_sizes=[2] * 4, folds=[8, 4, 2, 1])


def official_layout(model: ContextCluster, old: bool, dense: bool) -> dict:
    """mmvg weights written in the official key layout (the inverse of the documented conversion)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith('stem.'):
            k = 'patch_embed.proj.' + k[len('stem.'):]
        elif m := re.match(r'stages\.(\d+)\.downsample\.(.*)', k):
            k = f'network.{2 * int(m.group(1)) - 1}.proj.{m.group(2)}'
        elif m := re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.*)', k):
            rest = m.group(3)
            rest = {'ls1.gamma': 'layer_scale_1', 'ls2.gamma': 'layer_scale_2'}.get(rest, rest)
            if old:
                for new, old_name in (('f.', 'fc1.'), ('proj.', 'fc2.'), ('v.', 'fc_v.')):
                    rest = rest.replace(f'token_mixer.{new}', f'token_mixer.{old_name}')
                if re.match(r'mlp\.fc[12]\.weight', rest):
                    v = v[:, :, None, None]
            k = f'network.{2 * int(m.group(1))}.{m.group(2)}.{rest}'
        elif m := re.match(r'norm(\d)\.(.*)', k):
            k = f'norm{2 * int(m.group(1))}.{m.group(2)}' if dense else f'norm.{m.group(2)}'
        out[k] = v
    if old:
        out['fea_pos'] = torch.rand(2, 224, 224)
    if dense:
        out = {'backbone.' + k: v for k, v in out.items()}
        out['neck.lateral_convs.0.conv.weight'] = torch.rand(8, 16, 1, 1)
    else:
        out['head.weight'], out['head.bias'] = torch.rand(1000, 40), torch.rand(1000)
    return out


@pytest.mark.parametrize('old', [False, True], ids=['current', 'old'])
@pytest.mark.parametrize('dense', [False, True], ids=['cls', 'det'])
def test_official_layouts_convert_and_load_strictly(old, dense, tmp_path):
    torch.manual_seed(0)
    out_indices = (0, 1, 2, 3) if dense else (3, )
    src = ContextCluster(arch=TINY, out_indices=out_indices).eval()
    official = official_layout(src, old=old, dense=dense)
    converted = convert_coc(official)
    backbone = {k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')}
    dst = ContextCluster(arch=TINY, out_indices=out_indices).eval()
    dst.load_state_dict(backbone, strict=True)
    if dense:
        assert 'neck.lateral_convs.0.conv.weight' in converted
    else:
        assert converted['head.fc.weight'].shape == (1000, 40)
    assert not any('fea_pos' in k for k in converted)
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(src(x), dst(x)):
            torch.testing.assert_close(a, b)
    # and the same through init_cfg, wrapped as the authors' files are
    path = tmp_path / 'official.pth'
    torch.save({'model': official} if not dense else {'state_dict': official, 'meta': {}}, path)
    via_cfg = ContextCluster(arch=TINY, out_indices=out_indices,
                             init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    via_cfg.init_weights()
    for k, v in via_cfg.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k


def test_convert_is_identity_on_mmvg_layout():
    sd = {'backbone.stem.weight': torch.rand(1), 'backbone.norm0.weight': torch.rand(1)}
    assert convert_coc(sd) == sd
