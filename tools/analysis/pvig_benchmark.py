"""Pyramid ViG: memory of the chunked graph against the official dense one, and speed against mmpretrain.

Three comparisons, each measured within one run of this script:

1. PViG-S forward + backward at 1344x800, batch 1: peak memory with the chunked KNN against the same network
   with the official dense KNN (``dense_knn=True``: full N x M relative-position and distance matrices).
2. Peak memory of the stage-1 graph construction of PViG-S (80 channels, keys pooled by 4, k = 9) at 1344x800
   against 672x400: 4x the nodes, so linear memory gives about 4x and quadratic 16x.
3. Forward time at 224x224 against mmpretrain's ``PyramidVig`` with the same (converted) weights.

On CPU each memory case runs in a fresh subprocess and reports its peak RSS above the RSS before the measured
call (with glibc's mmap threshold lowered so that freed tensors leave the RSS); on CUDA it reports
``torch.cuda.max_memory_allocated`` above the memory allocated before the call.

    python tools/analysis/pvig_benchmark.py --quick --threads 1  # about 3 minutes on a 2-core CPU
    python tools/analysis/pvig_benchmark.py --device cuda

On a CPU shared with other jobs, ``--threads 1`` keeps timings stable: oversubscribed OpenMP threads slow every op
by an erratic 10-30x.
"""
import argparse
import json
import statistics
import sys
import time

import torch

from _measure import GiB, run_json_subprocess
from _measure import peak_memory as _measure_peak

SIZE_LARGE, SIZE_SMALL = (800, 1344), (400, 672)


# -- measurements (run in the process that owns the numbers) -------------------------------------------------------
def case_network(device: str, arch: str, dense: bool, with_cp: bool) -> dict:
    from mmvg.models import PyramidViG
    model = PyramidViG(arch=arch, dense_knn=dense, with_cp=with_cp).to(device).train()
    x = torch.randn(1, 3, *SIZE_LARGE, device=device)

    def step():
        sum(o.float().mean() for o in model(x)).backward()

    start = time.perf_counter()
    peak = _measure_peak(step, device)
    return dict(peak=peak, seconds=time.perf_counter() - start)


def case_graph(device: str, size, dense: bool) -> dict:
    from mmvg.models.layers import MaxRelativeGraphConv
    conv = MaxRelativeGraphConv(80, 160, k=9, dilation=1, reduce_ratio=4, dense_knn=dense).to(device)
    x = torch.randn(1, 80, size[0] // 4, size[1] // 4, device=device)
    conv.build_graph(torch.randn(1, 80, 8, 8, device=device))  # warm-up outside the measurement

    def build():
        with torch.no_grad():
            conv.build_graph(x)

    return dict(peak=_measure_peak(build, device))


def run_case(device: str, name: str, **kwargs) -> dict:
    """Run a memory case: in a fresh subprocess on CPU (peak RSS is per process), in this process on CUDA."""
    fn = dict(network=case_network, graph=case_graph)[name]
    if device == 'cuda':
        torch.cuda.empty_cache()
        return fn(device, **kwargs)
    cmd = [sys.executable, __file__, '--device', device, '--threads', str(torch.get_num_threads()),
           '--case', json.dumps(dict(name=name, **kwargs))]
    return run_json_subprocess(cmd)  # large frees go back to the OS (glibc's mmap threshold lowered)


# -- speed against mmpretrain -----------------------------------------------------------------------------------------
def speed_vs_mmpretrain(device: str, arch: str, batch: int, repeats: int) -> dict:
    from mmpretrain.models.backbones import PyramidVig

    from mmvg.models import PyramidViG
    from mmvg.models.utils import convert_vig
    torch.manual_seed(0)
    ref = PyramidVig(arch=arch, out_indices=[0, 1, 2, 3])
    for m in ref.modules():  # BN statistics of real activations, so that no layer runs on vanishing values
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    ref.train()
    with torch.no_grad():
        ref(torch.randn(8, 3, 224, 224))
    ours = PyramidViG(arch=arch)
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in convert_vig(ref.state_dict()).items()}, strict=True)
    ref, ours = ref.to(device), ours.to(device)
    ref.eval()
    ours.eval()
    x = torch.randn(batch, 3, 224, 224, device=device)

    def timed(model):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            model(x)
        if device == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(3):
        timed(ref), timed(ours)
    times = dict(ref=[], ours=[])
    for _ in range(repeats):  # interleaved, so that load changes hit both
        times['ref'].append(timed(ref))
        times['ours'].append(timed(ours))
    return {k: statistics.median(v) for k, v in times.items()}


# -- report ----------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--arch', default='small', help='PyramidViG arch of comparisons 1 and 3')
    parser.add_argument('--quick', action='store_true', help='skip the with_cp rows, fewer timing repeats')
    parser.add_argument('--threads', type=int, help='CPU threads (default: torch\'s)')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # internal: one memory case in a fresh process
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(run_case_inline(args.device, case)))
        return

    rows = []

    def row(what, ours, ref, ratio, goal, fmt=lambda v: f'{v / GiB:.2f} GiB'):
        rows.append((what, fmt(ours), fmt(ref), f'{ratio:.2f}x', goal))
        print(' | '.join(rows[-1]), flush=True)

    variants = [False] if args.quick else [False, True]
    for with_cp in variants:
        chunked = run_case(args.device, 'network', arch=args.arch, dense=False, with_cp=with_cp)
        dense = run_case(args.device, 'network', arch=args.arch, dense=True, with_cp=with_cp)
        row(f'PViG-{args.arch} fwd+bwd 1344x800 b1{" with_cp" if with_cp else ""}: peak memory, chunked vs dense KNN',
            chunked['peak'], dense['peak'], chunked['peak'] / dense['peak'], '<= 0.5x')

    for dense in (False, True):
        large = run_case(args.device, 'graph', size=SIZE_LARGE, dense=dense)
        small = run_case(args.device, 'graph', size=SIZE_SMALL, dense=dense)
        row(f'stage-1 graph construction peak, 1344x800 vs 672x400 ({"dense reference" if dense else "chunked"})',
            large['peak'], small['peak'], large['peak'] / small['peak'],
            '(quadratic = 16x)' if dense else '<= 4.5x (linear ~ 4x)', fmt=lambda v: f'{v / 2**20:.0f} MiB')

    t = speed_vs_mmpretrain(args.device, args.arch, batch=1, repeats=10 if args.quick else 30)
    row(f'PViG-{args.arch} forward 224x224 b1: time, mmvg vs mmpretrain', t['ours'], t['ref'], t['ref'] / t['ours'],
        '>= 1.0x (speed-up)', fmt=lambda v: f'{v * 1000:.1f} ms')

    device = torch.cuda.get_device_name() if args.device == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'\n{device}, torch {torch.__version__}\n')
    print('| comparison | mmvg | reference | ratio | goal |\n|---|---|---|---|---|')
    for r in rows:
        print('| ' + ' | '.join(r) + ' |')


def run_case_inline(device: str, case: dict) -> dict:
    name = case.pop('name')
    if name == 'graph':
        case['size'] = tuple(case['size'])
    return dict(network=case_network, graph=case_graph)[name](device, **case)


if __name__ == '__main__':
    main()
