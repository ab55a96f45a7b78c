"""tools/analysis/benchmark.py on tiny archs: the model catalogue, the measured columns, the skip and failure rules
and the files it writes (CSV, Markdown, PNG)."""
import csv
import importlib.util
import json
import os.path as osp

import pytest
import torch
from PIL import Image

import mmvg.models as mmvg_models
from tests.backbone_cases import BACKBONE_CASES

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('mmvg_benchmark_tool', osp.join(ROOT, 'tools/analysis/benchmark.py'))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
import _measure  # noqa: E402  (tools/analysis is on sys.path now)

MiB = 2**20
TINY_PVIG = dict(type='mmvg.PyramidViG', **BACKBONE_CASES['pvig'][1])
# 16 channels, 5 blocks of a 5x5 depthwise and a 1x1 pointwise convolution on 7x7 patches (padded to whole ones)
TINY_CONVMIXER = dict(type='mmvg.ConvMixer', **BACKBONE_CASES['convmixer'][1], out_indices=-1)


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # main() sets --threads for the process
    yield
    torch.set_num_threads(threads)


def read_csv(path):
    with open(path) as f:
        return {(row['model'], row['size']): row for row in csv.DictReader(f)}


def convmixer_macs(height, width):
    """Multiply-adds of TINY_CONVMIXER, by hand: patch embedding + 5 x (depthwise 5x5 + pointwise), per cell."""
    cells = -(-height // 7) * -(-width // 7)
    return cells * (16 * 3 * 7 * 7 + 5 * (16 * 5 * 5 + 16 * 16))


def assert_png(path):
    assert osp.getsize(path) > 0
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == 'PNG' and img.width > 100 and img.height > 100


def test_catalogue_has_every_arch_once_under_each_alias():
    specs = bench.catalog()
    for prefix, cls_name in bench.FAMILIES.items():
        cls = getattr(mmvg_models, cls_name)
        ours = [s for s in specs.values() if s.source == 'mmvg' and s.cfg['type'] == f'mmvg.{cls_name}']
        assert len(ours) == len({json.dumps(v, sort_keys=True) for v in cls.arch_zoo.values()}), cls_name
        for key, settings in cls.arch_zoo.items():  # every alias selects the spec of its own settings
            (spec, ) = bench.select([f'{prefix}-{key}'], specs)
            assert cls.arch_zoo[spec.cfg['arch']] == settings
    assert bench.select(['pvig-s'], specs) == bench.select(['pvig-small'], specs)
    assert [s.name for s in bench.select(['coc-*'], specs)] == [f'coc-{k}' for k in (
        'tiny', 'tiny2', 'tiny_plain', 'small', 'medium', 'base_dim64', 'base_dim96')]
    assert [s.name for s in bench.select([r'convmixer-\d+_\d+'], specs)] == [
        'convmixer-1536_20', 'convmixer-768_32', 'convmixer-1024_20']
    with_peers = [s.name for s in bench.select(['pvig-small'], specs, add_peers=True)]
    assert with_peers == ['pvig-small', 'mmpretrain-pvig-small', 'pvig-small-dense', 'resnet50']
    with pytest.raises(SystemExit, match='matches no model'):
        bench.select(['no-such-model'], specs)
    assert bench.parse_size('1344x800') == (800, 1344) and bench.parse_size('224') == (224, 224)


def test_peak_memory_sees_an_allocation_and_not_what_came_before():
    before = torch.ones(48 * MiB // 4)  # in use before the call: not counted
    peak = _measure.peak_memory(lambda: torch.ones(64 * MiB // 4).add_(1), 'cpu')
    assert 60 * MiB <= peak <= 100 * MiB
    del before


def test_tiny_pvig_end_to_end(tmp_path):
    paths = bench.main(['--spec', f'tiny-pvig={json.dumps(TINY_PVIG)}', '--peers', 'none', '--sizes', '64', '96x80',
                        '--growth', 'tiny-pvig', '--growth-sizes', '64', '96x80', '--repeats', '2',
                        '--out-dir', str(tmp_path)])
    rows = read_csv(paths['csv'])
    assert set(rows) == {('tiny-pvig', '64x64'), ('tiny-pvig', '96x80')}
    kwargs = {k: v for k, v in TINY_PVIG.items() if k != 'type'}
    params = sum(p.numel() for p in bench.build_model(TINY_PVIG).parameters())
    assert params == sum(p.numel() for p in mmvg_models.PyramidViG(**kwargs).parameters())
    small, large = rows[('tiny-pvig', '64x64')], rows[('tiny-pvig', '96x80')]
    for row in (small, large):
        assert row['status'] == 'ok', row
        assert int(row['params']) == params
        assert float(row['img_per_s']) > 0 and float(row['forward_s']) > 0
        # fwd+bwd of a tiny model above the RSS before it: a few MiB (the whole process RSS would be hundreds)
        assert 0 < float(row['peak_bytes']) < 150 * MiB
    assert 0 < float(small['flops']) < float(large['flops'])
    assert (int(large['height']), int(large['width'])) == (80, 96)

    markdown = open(paths['markdown']).read()
    assert '| tiny-pvig | mmvg | 96×80 | ' in markdown and 'growth.png' in markdown
    assert f'{params / 1e6:.2f}' in markdown
    assert len(read_csv(paths['growth_csv'])) == 2
    for kind in ('size_scaling', 'growth'):
        assert_png(paths[kind])


def test_flops_skip_and_failure_rules(tmp_path):
    tiny_vig = dict(type='mmvg.ViG', arch=dict(depth=2, embed_dim=32))  # needs H, W >= 16
    paths = bench.main([
        '--spec', f'tiny-convmixer={json.dumps(TINY_CONVMIXER)}', '--spec', f'tiny-vig={json.dumps(tiny_vig)}',
        '--models', 'mmpretrain-pvig-tiny', '--peers', 'none', '--no-memory', '--repeats', '1',
        '--sizes', '8', '64', '96x80', '640', '--max-gflops', '0.01', '--skip', 'tiny-vig@96x80',
        '--out-dir', str(tmp_path)])
    rows = read_csv(paths['csv'])
    cm = {size: rows[('tiny-convmixer', size)] for size in ('8x8', '64x64', '96x80', '640x640')}
    assert float(cm['64x64']['flops']) == convmixer_macs(64, 64)
    assert float(cm['96x80']['flops']) == convmixer_macs(80, 96)
    assert cm['640x640']['status'] == 'skipped' and '--max-gflops' in cm['640x640']['note']
    assert cm['640x640']['flops'] == cm['640x640']['img_per_s'] == ''  # not measured
    assert rows[('tiny-vig', '8x8')]['status'] == 'failed'
    assert 'n/a (fails: ValueError' in rows[('tiny-vig', '8x8')]['note']
    assert rows[('tiny-vig', '64x64')]['status'] == 'ok'
    assert rows[('tiny-vig', '96x80')]['status'] == 'skipped' and '--skip' in rows[('tiny-vig', '96x80')]['note']
    # mmpretrain's PyramidVig has fixed 224x224 position embeddings: a row that says so, not a crash
    peer = rows[('mmpretrain-pvig-tiny', '64x64')]
    assert peer['status'] == 'failed' and peer['note'].startswith('n/a (fails: RuntimeError')
    assert 'n/a (fails: RuntimeError' in open(paths['markdown']).read()
