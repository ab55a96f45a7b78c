"""Vision Permutator: the windowed permute-MLP against the official layer at 224, and its cost against input size.

1. At 224 (the trained grid: one window per axis, the official computation) mmvg's ``WeightedPermuteMLP`` against
   the official layout (one Linear over the ``H * S`` values of a segment, restated below from the formula of
   ``models/vip.py``) on ViP-S/7's two layers, 32x32x192 and 16x16x384: forward and forward + backward time.
   ``--official-vip PATH`` (the authors' ``models/vip.py``, not shipped with mmvg) adds the whole ViP-S/7 at 224
   against mmvg's with the same converted weights.
2. Linear growth: multiply-adds (FLOP counter), activation memory (bytes autograd saves for backward), time and, on
   CUDA, the allocator's peak, of the permute-MLP of pyramid ViP-small's stage 0 (80 channels, windows of 56) and of
   ViP-S/7's stage 1 (384 channels, windows of 16) at the grids of 672x400, 1344x800 and 2688x1600: 4x the
   positions per step, so linear cost gives 4x (from one window per axis to several, the activation memory grows a
   little faster once: with one window the reshapes are views, with several they copy). The multiply-adds and
   forward time of the whole pyramid ViP-small backbone at 672x400 and 1344x800.

On CPU the script re-runs itself with glibc told to keep freed memory (``MALLOC_MMAP_THRESHOLD_`` etc.): by default
glibc maps every buffer above 32 MiB afresh and page-faults it on each call, which makes the time of the largest
sizes grow faster than their work (``--raw-malloc`` keeps glibc's defaults to see it).

    python tools/analysis/vip_benchmark.py --threads 1 --quick   # about 6 minutes on a 2-core CPU
    python tools/analysis/vip_benchmark.py --device cuda --official-vip /path/to/VisionPermutator/models/vip.py
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmvg.models import VisionPermutator  # noqa: E402
from mmvg.models.layers import WeightedPermuteMLP  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _measure import peak_memory  # noqa: E402  (tools/analysis/_measure.py)

MiB = 2**20
SIZE_LARGE, SIZE_SMALL = (800, 1344), (400, 672)
LAYER_SIZES = [SIZE_SMALL, SIZE_LARGE, (1600, 2688)]


def official_layout_forward(layer: WeightedPermuteMLP, x: torch.Tensor) -> torch.Tensor:
    """The official layer: the H (W) mixing is one Linear over all ``H * S`` (``W * S``) values of a segment, which
    needs ``H = W = segment_dim``; the branch weights are a softmax over a (3, B, C) view."""
    B, H, W, C = x.shape
    G = layer.segment_dim
    S = C // G
    h = x.reshape(B, H, W, G, S).permute(0, 3, 2, 1, 4).reshape(B, G, W, H * S)
    h = layer.mlp_h(h).reshape(B, G, W, H, S).permute(0, 3, 2, 1, 4).reshape(B, H, W, C)
    w = x.reshape(B, H, W, G, S).permute(0, 1, 3, 2, 4).reshape(B, H, G, W * S)
    w = layer.mlp_w(w).reshape(B, H, G, W, S).permute(0, 1, 3, 2, 4).reshape(B, H, W, C)
    c = layer.mlp_c(x)
    a = (h + w + c).permute(0, 3, 1, 2).flatten(2).mean(2)
    a = layer.reweight(a).reshape(B, C, 3).permute(2, 0, 1).softmax(dim=0).unsqueeze(2).unsqueeze(2)
    return layer.proj(h * a[0] + w * a[1] + c * a[2])


# -- measurements ------------------------------------------------------------------------------------------------
def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def timed(fns: dict, device: str, repeats: int) -> dict:
    """Best-of-``repeats`` seconds of each callable (other load only adds time), interleaved so that load changes
    hit all of them."""
    for fn in fns.values():  # warm-up
        fn()
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[k].append(time.perf_counter() - start)
    return {k: min(v) for k, v in times.items()}


def macs(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() // 2


def saved_bytes(fn) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn`` runs (distinct storages)."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


# -- 1. the official layer at 224 ------------------------------------------------------------------------------------
def speed_at_224(device: str, batch: int, repeats: int, rows: list) -> None:
    for dim, seg in ((192, 32), (384, 16)):
        layer = WeightedPermuteMLP(dim, seg).to(device)
        x = torch.randn(batch, seg, seg, dim, device=device, requires_grad=True)
        with torch.no_grad():
            torch.testing.assert_close(layer(x), official_layout_forward(layer, x), rtol=1e-4, atol=1e-5)

        def fwd(f):
            def run():
                with torch.no_grad():
                    f(x)
            return run

        def fwd_bwd(f):
            def run():
                f(x).sum().backward()
            return run

        ours, ref = layer, lambda t: official_layout_forward(layer, t)
        t = timed(dict(ours=fwd(ours), ref=fwd(ref)), device, repeats)
        rows.append((f'permute-MLP {seg}x{seg}x{dim} b{batch} forward @224', f'{t["ours"] * 1e3:.2f} ms',
                     f'{t["ref"] * 1e3:.2f} ms', f'{t["ours"] / t["ref"]:.2f}x'))
        t = timed(dict(ours=fwd_bwd(ours), ref=fwd_bwd(ref)), device, repeats)
        rows.append((f'permute-MLP {seg}x{seg}x{dim} b{batch} fwd+bwd @224', f'{t["ours"] * 1e3:.2f} ms',
                     f'{t["ref"] * 1e3:.2f} ms', f'{t["ours"] / t["ref"]:.2f}x'))
        print(*rows[-2:], sep='\n', flush=True)


def official_network_at_224(device: str, path: str, batch: int, repeats: int, rows: list) -> None:
    import warnings

    from mmvg.models.utils import convert_vip
    spec = importlib.util.spec_from_file_location('official_vip', path)
    official = sys.modules['official_vip'] = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        spec.loader.exec_module(official)
    ref = official.vip_s7().to(device).eval()
    converted = convert_vip(ref.state_dict())
    ours = VisionPermutator(arch='s7', out_indices=-1).to(device).eval()
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')},
                         strict=True)
    head = torch.nn.Linear(384, 1000).to(device)
    head.load_state_dict({k[len('head.fc.'):]: v for k, v in converted.items() if k.startswith('head.fc.')})
    x = torch.randn(batch, 3, 224, 224, device=device)
    with torch.no_grad():
        diff = (ref(x) - head(ours(x)[0].mean((2, 3)))).abs().max().item()

    def run(f):
        def go():
            with torch.no_grad():
                f(x)
        return go

    t = timed(dict(ours=run(lambda t: head(ours(t)[0].mean((2, 3)))), ref=run(ref)), device, repeats)
    rows.append((f'ViP-S/7 network b{batch} forward @224 (max |logit diff| {diff:.1e})', f'{t["ours"] * 1e3:.1f} ms',
                 f'{t["ref"] * 1e3:.1f} ms', f'{t["ours"] / t["ref"]:.2f}x'))
    print(rows[-1], flush=True)


# -- 2. linear growth ------------------------------------------------------------------------------------------------
def growth(device: str, repeats: int, rows: list) -> None:
    cases = [('pyramid-small stage 0 (C 80, window 56)', 80, 80, 56, 4),
             ('ViP-S/7 stage 1 (C 384, window 16)', 384, 16, 16, 14)]
    for name, dim, seg, window, stride in cases:
        layer = WeightedPermuteMLP(dim, seg, window).to(device)
        stats = []
        for size in LAYER_SIZES:
            grid = tuple(-(-s // stride) for s in size)
            x = torch.randn(1, *grid, dim, device=device, requires_grad=True)

            def fwd_bwd():
                layer(x).sum().backward()

            def fwd():
                with torch.no_grad():
                    layer(x)

            stats.append(dict(grid=grid, macs=macs(fwd), saved=saved_bytes(lambda: layer(x)),
                              time=timed(dict(t=fwd_bwd), device, repeats)['t'],
                              peak=peak_memory(fwd_bwd, device) if device == 'cuda' else None))
            del x
        label = f'{name}, grids ' + ' / '.join(f'{s["grid"][0]}x{s["grid"][1]}' for s in stats)
        metrics = [('multiply-adds', 'macs', lambda v: f'{v / 1e9:.2f} G'),
                   ('saved for backward', 'saved', lambda v: f'{v / MiB:.0f} MiB'),
                   ('fwd+bwd time', 'time', lambda v: f'{v * 1e3:.0f} ms')]
        if device == 'cuda':
            metrics.append(('CUDA peak', 'peak', lambda v: f'{v / MiB:.0f} MiB'))
        for what, key, fmt in metrics:
            rows.append((f'{label}: {what}', *(fmt(s[key]) for s in stats),
                         f'{stats[2][key] / stats[1][key]:.2f}x'))
        print(*rows[-len(metrics):], sep='\n', flush=True)

    model = VisionPermutator(arch='small').to(device).eval()
    stats = {}
    for size in (SIZE_SMALL, SIZE_LARGE):
        x = torch.randn(1, 3, *size, device=device)

        def fwd():
            with torch.no_grad():
                model(x)

        stats[size] = dict(macs=macs(fwd), time=timed(dict(t=fwd), device, max(1, repeats // 3))['t'])
    s, big = stats[SIZE_SMALL], stats[SIZE_LARGE]
    rows.append(('pyramid ViP-small backbone: multiply-adds', f'{s["macs"] / 1e9:.1f} G', f'{big["macs"] / 1e9:.1f} G',
                 '–', f'{big["macs"] / s["macs"]:.2f}x (1344x800 / 672x400)'))
    rows.append(('pyramid ViP-small backbone: forward time', f'{s["time"] * 1e3:.0f} ms', f'{big["time"] * 1e3:.0f} ms',
                 '–', f'{big["time"] / s["time"]:.2f}x (1344x800 / 672x400)'))
    print(*rows[-2:], sep='\n', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--official-vip', help="the authors' models/vip.py: adds the whole ViP-S/7 at 224")
    parser.add_argument('--batch', type=int, default=8, help='batch of the 224 comparisons')
    parser.add_argument('--threads', type=int, help='CPU threads (default: torch\'s)')
    parser.add_argument('--quick', action='store_true', help='fewer timing repeats')
    parser.add_argument('--raw-malloc', action='store_true', help="CPU: keep glibc's default allocation behaviour")
    args = parser.parse_args()
    if args.device == 'cpu' and not args.raw_malloc and 'MALLOC_MMAP_THRESHOLD_' not in os.environ:
        keep = str(2**32)
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=keep, MALLOC_TRIM_THRESHOLD_=keep, MALLOC_TOP_PAD_=str(2**30))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 5 if args.quick else 15
    torch.manual_seed(0)

    speed_rows, growth_rows = [], []
    speed_at_224(args.device, args.batch, repeats, speed_rows)
    if args.official_vip:
        official_network_at_224(args.device, args.official_vip, args.batch, repeats, speed_rows)
    growth(args.device, repeats, growth_rows)

    malloc = 'glibc defaults' if args.raw_malloc else 'freed memory kept'
    device = (torch.cuda.get_device_name() if args.device == 'cuda' else
              f'CPU, {torch.get_num_threads()} threads, {malloc}')
    print(f'\n{device}, torch {torch.__version__}\n')
    print('| at 224 (one window per axis) | mmvg (windowed) | official layout | mmvg / official |\n|---|---|---|---|')
    for r in speed_rows:
        print('| ' + ' | '.join(r) + ' |')
    print('\n| growth (4x positions per step) | 672x400 | 1344x800 | 2688x1600 | ratio 2688x1600 / 1344x800 |\n'
          '|---|---|---|---|---|')
    for r in growth_rows:
        print('| ' + ' | '.join(r) + ' |')


if __name__ == '__main__':
    main()
