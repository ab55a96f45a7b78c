"""Hardening (issue 7): every backbone of ``backbone_cases.BACKBONE_CASES`` at random sizes, bad inputs with clear
errors, mixed precision, SyncBN, determinism, a 2-process run through ``tools/dist_train.sh``, and the shipped
configs' checkpoint and data-set settings.

Kill-and-resume is ``test_demo_and_tools.py::test_kill_and_resume_continues_from_the_last_checkpoint``; the
3-D / 5-D / wrong-channel / too-small inputs, the unknown arch, the arch dict missing keys, and a foreign or
truncated checkpoint per backbone are in ``test_backbone_contract.py``. The larger size sweep is opt-in:
``python tools/analysis/size_sweep.py``.
"""
import copy
import math
import os
import pickle
import re
import socket
import subprocess
import sys
import zlib
from functools import lru_cache
from itertools import permutations
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hypothesis import example, given, seed, settings
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner
from torch.nn.modules.batchnorm import _BatchNorm

import mmvg.models  # noqa: F401
from mmvg.apis import DatasetNotFoundError, check_datasets, enable_amp, setup_cpu_distributed
from mmvg.datasets.shapes import read_marker
from mmvg.models.layers.cluster import Cluster
from mmvg.models.layers.graph import knn_graph
from mmvg.registry import MODELS

from .backbone_cases import BACKBONE_CASES, case_params
from .test_demo_and_tools import demo_cfg

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)

# Random sizes the property test draws per backbone, besides 3 corners. Tiny archs on 2 CPU cores: at 1400x1400
# PViG's graph takes ~15 s (its KNN is quadratic in the nodes), the others under 1.5 s; most drawn sizes are far
# smaller. tools/analysis/size_sweep.py runs more.
SIZES_PER_BACKBONE = 6
MIN_SIDE, MAX_SIDE = 32, 1400


def build(name, **overrides):
    type_, kwargs, _ = BACKBONE_CASES[name]
    return MODELS.build(dict(type=type_, **{**kwargs, **overrides}))


@lru_cache(maxsize=None)
def eval_model(name):
    torch.manual_seed(0)
    return build(name).eval()


def expected_shapes(name, model, h, w, batch=1):
    strides = BACKBONE_CASES[name][2]
    return [(batch, c, math.ceil(h / strides[i]), math.ceil(w / strides[i]))
            for c, i in zip(model.out_channels, model.out_indices)]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo writes data/shapes relative to the working directory
    return tmp_path


# -- any size -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', case_params())
def test_random_sizes_exact_strides_finite(name, record_property):
    """Property: for random H, W in [32, 1400], outputs have exactly ceil(H / stride) x ceil(W / stride) cells and
    no NaN or Inf. Reproducible: the sizes are drawn from a seed per backbone, without an example database."""
    model = eval_model(name)
    tried = []

    @seed(zlib.crc32(name.encode()))
    @settings(max_examples=SIZES_PER_BACKBONE, deadline=None, database=None)
    @given(h=st.integers(MIN_SIDE, MAX_SIDE), w=st.integers(MIN_SIDE, MAX_SIDE))
    @example(h=MAX_SIDE, w=MAX_SIDE - 1)  # the corners, besides what the strategy draws (it favours small sizes)
    @example(h=MAX_SIDE, w=MIN_SIDE)
    @example(h=MIN_SIDE + 1, w=MAX_SIDE)
    def check(h, w):
        tried.append((h, w))
        with torch.no_grad():
            outs = model(torch.rand(1, 3, h, w))
        assert [tuple(o.shape) for o in outs] == expected_shapes(name, model, h, w), (h, w)
        assert all(torch.isfinite(o).all() for o in outs), (h, w)

    check()
    record_property('sizes_tried', len(tried))
    print(f'{name}: {len(tried)} sizes tried: {tried}')
    assert len(set(tried)) >= SIZES_PER_BACKBONE + 2  # the strategy draws real variety


@pytest.mark.parametrize('name', case_params())
def test_minimum_size_works_and_one_pixel_less_is_named(name):
    """The declared minimum is a real one: the backbone trains at it (batch 2), and one pixel less is refused."""
    model = build(name).train()
    m = model.min_input_size
    for size in [(m, m), (m, 3 * m + 1)]:
        x = torch.rand(2, 3, *size)
        outs = model(x)
        assert [tuple(o.shape) for o in outs] == expected_shapes(name, model, *size, batch=2)
        sum(o.mean() for o in outs).backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if m > 1:
        for size in [(m - 1, 64), (64, m - 1)]:
            with pytest.raises(ValueError, match=f'at least {m}x{m} pixels, got {size[0]}x{size[1]}'):
                model(torch.rand(1, 3, *size))


@pytest.mark.parametrize('name', case_params())
def test_empty_batch_gives_empty_maps(name):
    model = build(name).train()
    x = torch.rand(0, 3, 64, 48, requires_grad=True)
    outs = model(x)
    assert [tuple(o.shape) for o in outs] == expected_shapes(name, model, 64, 48, batch=0)
    sum(o.sum() for o in outs).backward()
    assert x.grad.shape == x.shape


# -- bad input: each one a clear error that names the problem and what is allowed ---------------------------------
@pytest.mark.parametrize('name', case_params())
def test_bad_inputs_are_named(name):
    model = eval_model(name)
    cls = type(model).__name__
    with pytest.raises(ValueError, match=f'{cls} expects a 4-D tensor .* got ndarray'):
        model(torch.rand(1, 3, 64, 64).numpy())
    with pytest.raises(ValueError, match=f'{cls} expects a floating-point tensor, got torch.uint8'):
        model(torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8))
    gray = build(name, in_channels=1).eval()
    with torch.no_grad():
        assert len(gray(torch.rand(1, 1, 64, 64))) == len(gray.out_indices)
    with pytest.raises(ValueError, match='expects 1 input channels, got 3'):
        gray(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize('name', case_params())
def test_bad_arch_and_settings_are_named(name):
    type_, kwargs, _ = BACKBONE_CASES[name]
    arch = kwargs['arch']
    with pytest.raises(TypeError, match='arch must be a name or a dict, got int'):
        MODELS.build(dict(type=type_, arch=3))
    with pytest.raises(ValueError, match=r"unknown keys \['no_such_key'\]. Required keys"):
        MODELS.build(dict(type=type_, arch={**arch, 'no_such_key': 1}))
    for key, value in arch.items():  # a per-stage list one entry short
        if isinstance(value, list):
            with pytest.raises(ValueError, match=f'{type_.split(".")[-1]} .*(per stage|entries)'):
                MODELS.build(dict(type=type_, arch={**arch, key: value[:-1]}))
    for frozen in (-2, 5, 1.5):
        with pytest.raises(ValueError, match=r'frozen_stages must be an int in \[-1, 4\]'):
            build(name, frozen_stages=frozen)


def _save_state(model, path):
    torch.save({'state_dict': model.state_dict(), 'meta': dict(note='mmvg')}, path)
    return str(path)


CROSS_FAMILY = [pytest.param(src, dst, id=f'{src}->{dst}') for src, dst in permutations(BACKBONE_CASES, 2)
                if BACKBONE_CASES[src][0] != BACKBONE_CASES[dst][0]]


@pytest.mark.parametrize('src,dst', CROSS_FAMILY)
def test_checkpoint_of_another_family_is_refused(src, dst, tmp_path):
    """Nothing loads across families, not even the few norms that share names and shapes (CoC, PyramidConvMixer and
    ViP all have 'stages.0.blocks.0.norm1.weight' of the same size)."""
    path = _save_state(build(src), tmp_path / f'{src}.pth')
    model = build(dst, init_cfg=dict(type='Pretrained', checkpoint=path))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='another model family|wrong shape for this arch'):
        model.init_weights()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize('src,dst', [('coc', 'pvig'), ('pvig', 'coc'), ('coc', 'pyramid_convmixer'),
                                     ('pyramid_convmixer', 'coc')])
def test_cross_family_message(src, dst, tmp_path):
    path = _save_state(build(src), tmp_path / f'{src}.pth')
    model = build(dst, init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"holds only \d+% of this backbone's weights .*another model family"):
        model.init_weights()


def test_checkpoint_with_most_weights_still_loads(tmp_path):
    """The coverage rule refuses other families, not a checkpoint that lacks a few keys (e.g. output norms)."""
    src = build('coc', out_indices=(3, ))
    path = _save_state(src, tmp_path / 'coc.pth')
    dst = build('coc', init_cfg=dict(type='Pretrained', checkpoint=path))  # output norms 0-3, the checkpoint's: 3
    dst.init_weights()
    assert torch.equal(dst.stages[2].blocks[0].norm1.weight, src.stages[2].blocks[0].norm1.weight)


def _not_checkpoints(tmp_path):
    model = build('coc')
    whole = tmp_path / 'whole.pth'
    torch.save({'state_dict': model.state_dict()}, whole)
    data = whole.read_bytes()
    files = {'truncated_half': data[:len(data) // 2], 'truncated_tail': data[:-64], 'empty': b'',
             'text': b'not a checkpoint\n', 'json': b'{"state_dict": {}}'}
    paths = {}
    for kind, content in files.items():
        paths[kind] = tmp_path / f'{kind}.pth'
        paths[kind].write_bytes(content)
    paths['pickle'] = tmp_path / 'plain.pkl'
    paths['pickle'].write_bytes(pickle.dumps({'weights': [1, 2]}))
    for kind, obj in [('list', [torch.zeros(2)]), ('tensor', torch.zeros(2)), ('no_tensors', {'state_dict': {}})]:
        paths[kind] = tmp_path / f'{kind}.pth'
        torch.save(obj, paths[kind])
    return paths


NOT_CHECKPOINTS = {
    'truncated_half': r'not a readable PyTorch checkpoint', 'truncated_tail': r'not a readable PyTorch checkpoint',
    'empty': r'\(0 bytes\) is not a readable PyTorch checkpoint', 'text': r'not a readable PyTorch checkpoint',
    'json': r'not a readable PyTorch checkpoint', 'pickle': r'not a readable PyTorch checkpoint',
    'list': r'is not a model checkpoint: expected a checkpoint dict, got list',
    'tensor': r'is not a model checkpoint: expected a checkpoint dict, got Tensor',
    'no_tensors': r'is not a model checkpoint: the checkpoint holds no tensors'}


@pytest.mark.parametrize('kind', list(NOT_CHECKPOINTS))
def test_file_that_is_not_a_checkpoint_is_named(kind, tmp_path):
    path = _not_checkpoints(tmp_path)[kind]
    model = build('coc', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=NOT_CHECKPOINTS[kind]) as info:
        model.init_weights()
    assert str(path) in str(info.value)


@pytest.mark.parametrize('where,message', [('missing.pth', 'does not exist'), ('', 'is a directory, not a file')])
def test_checkpoint_path_that_is_not_a_file(where, message, tmp_path):
    model = build('coc', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / where)))
    with pytest.raises(FileNotFoundError, match=message):
        model.init_weights()


@lru_cache(maxsize=None)
def load_config(path: Path) -> Config:
    return Config.fromfile(str(path))


DATA_ROOTS = {'mmdet': 'data/coco/', 'mmseg': 'data/ade/ADEChallengeData2016', 'mmpretrain': 'data/imagenet'}


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_without_its_data_names_it(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path)
    with pytest.raises(DatasetNotFoundError) as info:
        check_datasets(cfg, str(path))
    message = str(info.value)
    assert message.startswith('Dataset not found: train_dataloader')
    assert DATA_ROOTS[cfg.default_scope] in message and 'docs/datasets.md' in message
    assert f'python tools/train.py {path} --demo' in message


# -- the shipped configs keep the last and the best checkpoint -------------------------------------------------------
BEST = {'mmdet': 'coco/bbox_mAP', 'mmseg': 'mIoU', 'mmpretrain': 'accuracy/top1'}


def _metric_is_reported(cfg: Config, metric: str) -> bool:
    evaluator = cfg.val_evaluator
    if cfg.default_scope == 'mmdet':
        kinds = evaluator.metric if isinstance(evaluator.metric, (list, tuple)) else [evaluator.metric]
        return evaluator.type == 'CocoMetric' and 'bbox' in kinds
    if cfg.default_scope == 'mmseg':
        return evaluator.type == 'IoUMetric' and metric in evaluator.iou_metrics
    return evaluator.type == 'Accuracy' and 1 in tuple(evaluator.get('topk', (1, )))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_keeps_last_and_best_checkpoint(path):
    cfg = load_config(path)
    hook = cfg.default_hooks.checkpoint
    assert hook.type == 'CheckpointHook'
    assert hook.get('save_last', True), 'the last checkpoint is kept'
    keep = hook.get('max_keep_ckpts', -1)
    assert keep == -1 or keep >= 1
    assert hook.get('save_best') == BEST[cfg.default_scope] and hook.get('rule') == 'greater'
    assert _metric_is_reported(cfg, hook.save_best), f'the evaluator does not report {hook.save_best}'


# -- mixed precision ----------------------------------------------------------------------------------------------
AMP = [pytest.param('cpu', torch.bfloat16, id='cpu-bf16'),
       pytest.param('cuda', torch.float16, id='cuda-fp16',
                    marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU'))]


@pytest.mark.parametrize('device,dtype', AMP)
@pytest.mark.parametrize('name', case_params())
def test_amp_forward_backward_is_finite(name, device, dtype):
    torch.manual_seed(0)
    model = build(name).train().to(device)
    conv_dtypes = set()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, inp, out: conv_dtypes.add(out.dtype))
    x = torch.rand(2, 3, 97, 75, device=device)
    with torch.autocast(device_type=device, dtype=dtype):
        outs = model(x)
    assert dtype in conv_dtypes, 'autocast is active'
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.float().square().mean() for o in outs).backward()
    bad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, f'parameters without a finite gradient under {dtype}: {bad}'


@pytest.mark.parametrize('features_dtype', [torch.float32, torch.bfloat16])
def test_knn_distances_run_in_fp32_under_autocast(features_dtype):
    """Under autocast the neighbours are those of the fp32 computation. (Computed in bf16, ~4 % of them differ.)"""
    torch.manual_seed(0)
    x = torch.randn(2, 32, 400).to(features_dtype)
    y = torch.randn(2, 32, 100).to(features_dtype)
    pooled_keys, self_graph = knn_graph(x.float(), y.float(), k=9, dilation=2), knn_graph(x.float(), None, k=9)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert torch.equal(knn_graph(x, y, k=9, dilation=2), pooled_keys)
        assert torch.equal(knn_graph(x, None, k=9), self_graph)


@pytest.mark.parametrize('size', [(16, 16), (13, 18)])  # whole regions, and padded ones
def test_cluster_similarities_run_in_fp32_under_autocast(size):
    """With identity projections nothing in the op is left to autocast: it must give the fp32 result exactly (bf16
    similarities and products would be ~1e-2 off)."""
    torch.manual_seed(0)
    op = Cluster(32, num_heads=2, head_dim=16, proposal_size=2, fold=2)
    op.f, op.v, op.proj = nn.Identity(), nn.Identity(), nn.Identity()
    x = torch.randn(2, 32, *size)
    reference = op(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = op(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference)


@pytest.mark.slow
def test_amp_demo_trains_in_bf16_on_cpu(in_tmp):
    """``tools/train.py --amp`` on a CPU (mmengine's AmpOptimWrapper refuses to start without a GPU)."""
    cfg = demo_cfg('configs/coc/coc_small_in1k.py', in_tmp, num_train=16, num_val=8)
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
    cfg.train_dataloader.batch_size = 4
    enable_amp(cfg)
    runner = Runner.from_cfg(cfg)
    dtypes = set()
    runner.model.backbone.stem.register_forward_hook(
        lambda mod, inp, out: dtypes.add(out.dtype) if mod.training else None)  # training steps, not validation
    runner.train()
    assert type(runner.optim_wrapper).__name__ == 'AutocastOptimWrapper' and dtypes == {torch.bfloat16}
    losses = runner.message_hub.get_scalar('train/loss').data[0].tolist()
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)


# -- SyncBN -------------------------------------------------------------------------------------------------------
def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize('name', case_params())
def test_syncbn_conversion_round_trip(name):
    torch.manual_seed(0)
    model = build(name, norm_cfg=dict(type='BN'))
    num_bn = _count(model, _BatchNorm)
    assert num_bn > 0
    x = torch.rand(2, 3, 64, 48)

    sync = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    assert _count(sync, nn.SyncBatchNorm) == num_bn == _count(sync, _BatchNorm)
    assert sync.state_dict().keys() == model.state_dict().keys()
    with torch.no_grad():
        for a, b in zip(model.eval()(x), sync.eval()(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    back = revert_sync_batchnorm(sync)  # what mmengine's runner does outside distributed training
    assert _count(back, nn.SyncBatchNorm) == 0 and _count(back, _BatchNorm) == num_bn
    model.train(), back.train()
    for a, b in zip(model(x), back(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for (k, a), b in zip(model.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), k  # the running statistics moved the same way


@pytest.mark.parametrize('name', case_params())
def test_syncbn_from_config_trains_outside_a_process_group(name):
    model = build(name, norm_cfg=dict(type='SyncBN')).train()
    assert _count(model, nn.SyncBatchNorm) > 0
    outs = model(torch.rand(2, 3, 64, 48))
    sum(o.mean() for o in outs).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# -- determinism --------------------------------------------------------------------------------------------------
def _seeded_run(tmp_path, name, seed_value, epochs=2):
    cfg = demo_cfg('configs/coc/coc_small_in1k.py', tmp_path, num_train=8, num_val=4)
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.train_dataloader.batch_size = 4  # 2 iterations per epoch
    cfg.model.backbone.drop_path_rate = 0.1  # random too: stochastic depth, crops and flips, shuffling, init
    cfg.randomness = dict(seed=seed_value)
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.message_hub.get_scalar('train/loss').data[0].tolist(), Path(cfg.work_dir)


@pytest.mark.slow
def test_seeded_demo_runs_repeat_their_losses_and_keep_last_and_best(in_tmp):
    first, work = _seeded_run(in_tmp, 'first', 0)
    second, _ = _seeded_run(in_tmp, 'second', 0)
    other, _ = _seeded_run(in_tmp, 'other_seed', 1, epochs=1)
    assert len(first) == 4 and first == second
    assert other != first[:2], 'the losses depend on the seed at all'
    # the config's checkpoint settings: the last and the best are kept, older ones removed
    kept = sorted(p.name for p in work.glob('*.pth'))
    assert kept == ['best_accuracy_top1_epoch_2.pth', 'epoch_2.pth'], kept


# -- distribution -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_concurrent_demo_data_generation(tmp_path):
    """The ranks of ``dist_train.sh CFG N --demo`` all ask for the demo data on first use: they take turns, and
    the data is generated once. (Without the lock, two processes at once fail.)"""
    code = ('from mmvg.datasets.shapes import generate_shapes; '
            "generate_shapes('data/shapes', num_train=24, num_val=6, img_size=(64, 80), tasks=('cls', 'seg'))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    procs = [subprocess.Popen([sys.executable, '-c', code], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for e in errors]
    shapes = tmp_path / 'data' / 'shapes'
    assert sorted(os.listdir(shapes)) == ['ade', 'imagenet']  # nothing partial left
    for root in (shapes / 'imagenet', shapes / 'ade' / 'ADEChallengeData2016'):
        assert read_marker(str(root))['params']['num_train'] == 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='with CUDA mmengine starts the process group itself')
def test_setup_cpu_distributed(monkeypatch):
    assert not setup_cpu_distributed(Config(dict(launcher='none')))
    for key, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()), RANK='0', WORLD_SIZE='1',
                           LOCAL_RANK='0').items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    try:
        assert setup_cpu_distributed(cfg)
        assert torch.distributed.get_backend() == 'gloo' and torch.distributed.get_world_size() == 1
        assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=60)
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel' and cfg.model_wrapper_cfg.device_ids is None
        assert not setup_cpu_distributed(cfg)  # once
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_dist_train_two_processes_end_with_identical_weights(in_tmp):
    """``bash tools/dist_train.sh CFG 2`` on a CPU (gloo): each rank trains on its own half of the data, and the
    gradients are averaged, so both ranks end with the same weights (and the checkpoint holds them)."""
    cfg = demo_cfg('configs/coc/coc_small_in1k.py', in_tmp, num_train=16, num_val=8)
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
    cfg.train_dataloader.batch_size = 2  # 16 images / 2 ranks / 2 = 4 iterations
    cfg.custom_imports.imports = list(cfg.custom_imports.imports) + ['tests.hardening_hooks']
    cfg.custom_hooks = [dict(type='DumpRankStateHook')]
    cfg_path = in_tmp / 'dist_cfg.py'
    cfg.dump(str(cfg_path))
    work = in_tmp / 'dist_work'
    # dist_train.sh runs `python`: this interpreter's
    env = dict(os.environ, PORT=str(_free_port()), OMP_NUM_THREADS='1',
               PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}')
    result = subprocess.run(['bash', str(ROOT / 'tools' / 'dist_train.sh'), str(cfg_path), '2', '--work-dir',
                             str(work)], cwd=in_tmp, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    ranks = [torch.load(work / f'rank{i}_state.pth', weights_only=False) for i in range(2)]
    assert [r['rank'] for r in ranks] == [0, 1] and all(r['world_size'] == 2 for r in ranks)
    assert len(ranks[0]['images']) == len(ranks[1]['images']) == 8
    assert not set(ranks[0]['images']) & set(ranks[1]['images']), 'each rank trains on its own samples'
    for key, value in ranks[0]['final'].items():
        assert torch.equal(value, ranks[1]['final'][key]), key
    assert any(not torch.equal(v, ranks[0]['initial'][k]) for k, v in ranks[0]['final'].items()), 'it trained'
    saved = torch.load(work / 'epoch_1.pth', weights_only=False)['state_dict']
    for key, value in ranks[1]['final'].items():
        assert torch.equal(saved[key], value), key

    # and ``bash tools/dist_test.sh CFG CKPT 2`` evaluates that checkpoint with both ranks: the same metric as one
    # process, since the evaluator gathers the predictions of all ranks
    env['PORT'] = str(_free_port())
    tested = subprocess.run(['bash', str(ROOT / 'tools' / 'dist_test.sh'), str(cfg_path), str(work / 'epoch_1.pth'),
                             '2', '--work-dir', str(in_tmp / 'dist_test')], cwd=in_tmp, env=env, capture_output=True,
                            text=True, timeout=600)
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-4000:]
    dist_top1 = re.findall(r'accuracy/top1: ([0-9.]+)', tested.stdout + tested.stderr)
    single = subprocess.run([sys.executable, str(ROOT / 'tools' / 'test.py'), str(cfg_path), str(work / 'epoch_1.pth'),
                             '--work-dir', str(in_tmp / 'single_test')], cwd=in_tmp, env=env, capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, (single.stdout + single.stderr)[-4000:]
    assert dist_top1 and dist_top1 == re.findall(r'accuracy/top1: ([0-9.]+)', single.stdout + single.stderr)
