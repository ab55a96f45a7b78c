"""The visualisation tools: the neighbours and cluster assignments they draw are the model's own (recorded by the
layers, checked against independent computations), Grad-CAM maps are sane, and every tool writes the PNG it
promises, from a bare backbone and from an mmpretrain config with a checkpoint."""
import importlib.util
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmvg.models import ContextCluster, PyramidViG
from mmvg.models.layers import Cluster, MaxRelativeGraphConv, relative_position
from mmvg.models.layers.cluster import record_clusters
from mmvg.models.layers.graph import fit_neighbours, record_graphs
from mmvg.visualization import Panel, grad_cam, grid_size, load_image, load_model, preprocess

ROOT = Path(__file__).resolve().parents[1]
PVIG_TINY = dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40])
COC_TINY = dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40], num_heads=[2, 2, 4, 4], head_dims=[8, 8, 8, 8],
                mlp_ratios=[2, 2, 2, 2], proposal_sizes=[2, 2, 2, 2], folds=[8, 4, 2, 1])
CLASSES = ('circle', 'square', 'triangle')
IMG_W, IMG_H = 88, 72
PANEL = 128


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'vis_tool_{name}', ROOT / 'tools' / 'visualization' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_size(num_panels: int, ncols: int, header: bool = True):
    panel = Panel(np.zeros((IMG_H, IMG_W, 3)))
    return grid_size([panel] * num_panels, ncols, PANEL, header_px=28 if header else 0)


def check_png(path: Path, size):
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == 'PNG' and im.size == size
        pixels = np.asarray(im.convert('RGB'))
    assert pixels.std() > 10  # something was drawn


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    """A disc and a square on a gradient, IMG_W x IMG_H."""
    rows, cols = np.mgrid[:IMG_H, :IMG_W]
    img = np.stack([cols * 255 // IMG_W, rows * 255 // IMG_H, np.full_like(rows, 90)], -1).astype(np.uint8)
    img[(rows - 30) ** 2 + (cols - 55) ** 2 < 15 ** 2] = (30, 30, 230)
    img[50:66, 10:30] = (40, 200, 40)
    path = tmp_path_factory.mktemp('vis') / 'shapes.png'
    mmcv.imwrite(img, str(path))
    return path


@pytest.fixture(scope='module')
def classifier(tmp_path_factory):
    """A tiny PViG classifier config in mmpretrain and a checkpoint of it (with class names in its meta)."""
    pytest.importorskip('pytorch_grad_cam', reason='Grad-CAM needs pip install grad-cam (mmvg[vis])')
    folder = tmp_path_factory.mktemp('cls')
    config = folder / 'pvig_tiny_cls.py'
    config.write_text(f"""
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmvg.models'], allow_failed_imports=False)
data_preprocessor = dict(num_classes=3, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
model = dict(type='ImageClassifier', backbone=dict(type='mmvg.PyramidViG', arch={PVIG_TINY!r}, out_indices=(3, )),
             neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=3, in_channels=40))
val_dataloader = dict(dataset=dict(metainfo=dict(classes={CLASSES!r})))
""")
    torch.manual_seed(0)
    model = load_model(str(config)).model
    checkpoint = folder / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=list(CLASSES)))), checkpoint)
    return config, checkpoint


# -- the recording hooks -------------------------------------------------------------------------------------------
def test_recorded_neighbours_are_the_knn_of_the_graph_features():
    torch.manual_seed(0)
    model = PyramidViG(arch=PVIG_TINY).eval()
    x = torch.randn(1, 3, 128, 160)  # the last block's 4x5 keys allow its dilation 2
    features = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, MaxRelativeGraphConv)}

    def keep_input(name, build_graph):
        def wrapped(feat):
            features[name] = feat  # what the graph is built on
            return build_graph(feat)
        return wrapped

    with torch.no_grad():
        plain = model(x)
        for name, conv in convs.items():
            conv.build_graph = keep_input(name, conv.build_graph)
        with record_graphs(model) as graphs:
            recorded = model(x)
    for a, b in zip(plain, recorded):
        assert torch.equal(a, b)  # recording changes nothing
    assert all(m.graph_records is None for m in convs.values())  # and is switched off afterwards
    assert set(graphs) == set(convs)
    for name, conv in convs.items():
        (rec, ) = graphs[name]
        feat = features[name]  # B, C, H, W
        _, C, H, W = feat.shape
        r = conv.reduce_ratio
        keys = F.avg_pool2d(feat, r, r, ceil_mode=True, count_include_pad=False) if r > 1 else feat
        nodes = F.normalize(feat.flatten(2).double(), dim=1).transpose(1, 2)
        keys = F.normalize(keys.flatten(2).double(), dim=1).transpose(1, 2)
        dist = torch.cdist(nodes, keys).square()
        dist = dist + relative_position(C, (H, W), r, r > 1 and conv.pretrain_size == (H, W)).dense().double()
        k, d = fit_neighbours(conv.k, conv.dilation, keys.shape[1])
        oracle = dist.topk(k * d, dim=-1, largest=False).indices[..., ::d]
        assert rec.query_size == (H, W) and rec.key_size == (-(-H // r), -(-W // r))
        assert rec.reduce_ratio == r and rec.dilation == d and rec.idx.shape == (1, H * W, k)
        assert torch.equal(rec.idx.sort(-1).values, oracle.sort(-1).values), name
    assert any(rec.dilation > 1 for recs in graphs.values() for rec in recs)  # the dilated graphs are covered


@pytest.mark.parametrize('H,W', [(16, 24), (13, 18)])  # whole regions; padded partial regions
def test_recorded_clusters_are_the_nearest_centres(H, W):
    torch.manual_seed(0)
    op = Cluster(16, num_heads=2, head_dim=8, proposal_size=2, fold=(2, 3)).eval()
    x = torch.randn(1, 16, H, W)
    feats = []
    hook = op.f.register_forward_hook(lambda m, args, out: feats.append(out))
    with torch.no_grad():
        plain = op(x)
        with record_clusters(op) as clusters:
            recorded = op(x)
    hook.remove()
    assert torch.equal(plain, recorded) and op.cluster_records is None
    (rec, ) = clusters['']
    assert rec.assign.shape == (1, 2, H, W) and rec.assign.dtype == torch.int64
    assert rec.num_centres == 2 * 3 * 4
    assert 0 <= rec.assign.min() and rec.assign.max() < rec.num_centres
    (rh, rw), (nh, nw) = rec.region_size, rec.regions
    feat = feats[-1].reshape(2, 8, H, W)  # heads, d, H, W
    for head in range(2):
        for i in range(nh):
            for j in range(nw):
                region = feat[head, :, i * rh:(i + 1) * rh, j * rw:(j + 1) * rw]  # cut at the edge
                ids = rec.assign[0, head, i * rh:(i + 1) * rh, j * rw:(j + 1) * rw]
                base = (i * nw + j) * 4
                assert ((ids >= base) & (ids < base + 4)).all()  # points join their own region's centres
                if (H, W) == (16, 24):  # whole regions: centres are plain means of the 2x2 cells of the region
                    centres = F.adaptive_avg_pool2d(region[None], 2)[0].flatten(1)  # d, 4
                    cos = F.normalize(centres.T, dim=1) @ F.normalize(region.flatten(1), dim=0)  # 4, points
                    # sigmoid(beta + alpha * cos) with alpha = 1 > 0 is increasing in cos
                    assert torch.equal(ids.flatten() - base, cos.argmax(0))


def test_record_clusters_over_a_backbone_names_every_stage():
    model = ContextCluster(arch=COC_TINY).eval()
    with torch.no_grad(), record_clusters(model) as clusters:
        model(torch.rand(1, 3, IMG_H, IMG_W))
    stages = load_tool('vis_coc_clusters').stage_clusters(clusters)
    assert sorted(stages) == [0, 1, 2, 3]
    for stage, rec in stages.items():
        assert rec.assign.shape == (1, COC_TINY['num_heads'][stage], -(-IMG_H // 4 // 2**stage),
                                    -(-IMG_W // 4 // 2**stage))
        assert 0 <= rec.assign.min() and rec.assign.max() < rec.num_centres


# -- the tools ------------------------------------------------------------------------------------------------------
def test_vis_pvig_graph_bare_backbone(image_file, tmp_path):
    tool = load_tool('vis_pvig_graph')
    out = tmp_path / 'graph.png'
    tool.main([str(image_file), '--arch', repr(PVIG_TINY), '--point', '50', '20', '--panel-size', str(PANEL),
               '--out', str(out)])
    check_png(out, expected_size(4, 4))  # one panel per stage

    # the node under the point, and its neighbours as recorded
    model = PyramidViG(arch=PVIG_TINY).eval()
    with torch.no_grad(), record_graphs(model) as graphs:
        model(torch.rand(1, 3, IMG_H, IMG_W))
    per_stage = tool.stage_graphs(graphs, [4, 8, 16, 32])
    assert [g.stage for g in per_stage] == [0, 1, 2, 3] and per_stage[2].block == 1 and per_stage[2].num_blocks == 2
    for g in per_stage:
        node, nbrs = tool.node_neighbours(g, (50, 20))
        assert node == (20 // g.stride) * g.record.query_size[1] + 50 // g.stride
        assert nbrs == g.record.idx[0, node].tolist()
    with pytest.raises(ValueError, match='out of range'):
        tool.stage_graphs(graphs, [4, 8, 16, 32], block=2)


def test_vis_coc_clusters_bare_backbone(image_file, tmp_path):
    out = tmp_path / 'clusters.png'
    load_tool('vis_coc_clusters').main([str(image_file), '--arch', repr(COC_TINY), '--panel-size', str(PANEL),
                                        '--out', str(out)])
    check_png(out, expected_size(4 * 4, 4))  # 4 stages x up to 4 heads


def test_gradcam_of_a_classifier(image_file, classifier, tmp_path):
    config, checkpoint = classifier
    vis_model = load_model(str(config), str(checkpoint))
    assert vis_model.is_classifier and vis_model.classes == list(CLASSES)
    inputs = preprocess(vis_model, load_image(str(image_file)))
    torch.testing.assert_close(inputs[0, :, 0, 0], torch.tensor([90., 0., 0.]) / 127.5 - 1)  # RGB, mean=std=127.5
    with torch.no_grad():
        logits = vis_model.model(inputs, mode='tensor')[0]
    for layer in ('backbone.stages.-1', 'backbone.stages.1'):
        result = grad_cam(vis_model, inputs, layer)
        assert result.cam.shape == (IMG_H, IMG_W) and result.layer == layer
        assert np.isfinite(result.cam).all() and result.cam.min() >= 0
        # scaled to [0, 1], or all zeros where no location has positive evidence (random weights may do that)
        assert result.cam.max() == pytest.approx(1, abs=1e-5) or result.cam.max() == 0
        if layer == 'backbone.stages.-1':
            assert result.cam.max() - result.cam.min() > 0.5 and result.cam.std() > 0.05  # not constant
        assert result.target == int(logits.argmax())
        assert result.score == pytest.approx(float(logits.max()), rel=1e-4, abs=1e-5)
    with pytest.raises(ValueError, match='out of range'):
        grad_cam(vis_model, inputs, target=3)

    out = tmp_path / 'gradcam.png'
    load_tool('gradcam').main([str(image_file), str(config), str(checkpoint), '--target-class', 'square',
                               '--target-layer', 'backbone.stages.2', 'backbone.stages.3',
                               '--panel-size', str(PANEL), '--out', str(out)])
    check_png(out, expected_size(3, 3))  # the image, then one map per layer


def test_vis_pvig_graph_node_from_gradcam(image_file, classifier, tmp_path):
    config, checkpoint = classifier
    out = tmp_path / 'graph_cam.png'
    load_tool('vis_pvig_graph').main([str(image_file), str(config), str(checkpoint), '--panel-size', str(PANEL),
                                      '--out', str(out)])
    check_png(out, expected_size(5, 5))  # the Grad-CAM map, then one panel per stage


def test_checkpoint_of_another_model_is_refused(classifier, tmp_path):
    config, _ = classifier
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=PyramidViG(arch=PVIG_TINY).state_dict()), other)  # a bare backbone's keys
    with pytest.raises(RuntimeError):
        load_model(str(config), str(other))
