"""Every registered backbone at many random input sizes: the opt-in, larger run of ``tests/test_hardening.py``'s
property test.

For each entry of ``tests/backbone_cases.py`` (the tiny test archs; ``--arch`` puts a real one in their place), N
random ``(H, W)`` in ``[--min-size, --max-size]`` plus the four corners run through the backbone in eval mode.
Each output must have exactly ``ceil(H / stride) x ceil(W / stride)`` cells, with no NaN or Inf. The script
reports how many sizes it tried per backbone, how long they took, and every failure; it exits with status 1 if
any size failed.

    python tools/analysis/size_sweep.py                          # 50 sizes per backbone, 32..1400
    python tools/analysis/size_sweep.py --num-sizes 200 --cases coc pvig --seed 1
    python tools/analysis/size_sweep.py --cases pvig --arch tiny --max-seconds 600 --json sweep.json
    python tools/analysis/size_sweep.py --backward               # train mode, forward + backward (batch 2)
"""
import argparse
import json
import math
import os.path as osp
import sys
import time
import traceback

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # run from a checkout: mmvg and tests/backbone_cases.py

from mmvg.registry import MODELS  # noqa: E402
from tests.backbone_cases import BACKBONE_CASES  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Run every backbone at many random input sizes')
    parser.add_argument('--num-sizes', type=int, default=50, help='random sizes per backbone (besides 4 corners)')
    parser.add_argument('--min-size', type=int, default=32)
    parser.add_argument('--max-size', type=int, default=1400)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cases', nargs='+', choices=sorted(BACKBONE_CASES), default=sorted(BACKBONE_CASES),
                        help='entries of tests/backbone_cases.py')
    parser.add_argument('--arch', help='an arch name of the chosen backbones instead of their tiny test arch')
    parser.add_argument('--backward', action='store_true', help='train mode, forward and backward, batch 2')
    parser.add_argument('--max-seconds', type=float, default=None,
                        help='stop a backbone after this many seconds (the report says how many sizes it tried)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', help='also write the report to this file')
    return parser.parse_args()


def sizes(num: int, low: int, high: int, seed: int):
    """The four corners, then ``num`` random sizes, each side uniform in ``[low, high]``."""
    rng = np.random.default_rng(seed)
    corners = [(low, low), (low, high), (high, low), (high, high)]
    return corners + [tuple(int(v) for v in rng.integers(low, high + 1, size=2)) for _ in range(num)]


def check(model, strides, h: int, w: int, backward: bool, device: str) -> None:
    x = torch.rand(2 if backward else 1, 3, h, w, device=device)
    if backward:
        outs = model(x)
        sum(o.float().mean() for o in outs).backward()
        bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
        model.zero_grad(set_to_none=True)
        if bad:
            raise AssertionError(f'non-finite gradients in {bad[:3]}')
    else:
        with torch.no_grad():
            outs = model(x)
    expected = [(x.shape[0], c, math.ceil(h / strides[i]), math.ceil(w / strides[i]))
                for c, i in zip(model.out_channels, model.out_indices)]
    got = [tuple(o.shape) for o in outs]
    if got != expected:
        raise AssertionError(f'shapes {got}, expected {expected}')
    if not all(torch.isfinite(o).all() for o in outs):
        raise AssertionError('NaN or Inf in the outputs')


def sweep(name: str, args) -> dict:
    type_, kwargs, strides = BACKBONE_CASES[name]
    kwargs = dict(kwargs, arch=args.arch) if args.arch else kwargs
    torch.manual_seed(args.seed)
    model = MODELS.build(dict(type=type_, **kwargs)).to(args.device).train(args.backward)
    # the test archs' strides are written down in backbone_cases.py; a real arch declares its own
    strides = dict(zip(model.out_indices, model.out_strides)) if args.arch else dict(enumerate(strides))
    tried, failures, start = [], [], time.time()
    for h, w in sizes(args.num_sizes, args.min_size, args.max_size, args.seed):
        if args.max_seconds is not None and time.time() - start > args.max_seconds:
            break
        tried.append((h, w))
        try:
            check(model, strides, h, w, args.backward, args.device)
        except Exception as e:  # noqa: BLE001  (every failure is reported, the sweep goes on)
            failures.append(dict(size=[h, w], error=f'{type(e).__name__}: {e}'.strip(),
                                 where=traceback.format_exc(limit=-2).strip().splitlines()[-3:]))
    return dict(case=name, type=type_, arch=args.arch or 'test arch', sizes_tried=len(tried),
                failures=failures, seconds=round(time.time() - start, 1),
                largest=max(tried, key=lambda s: s[0] * s[1]) if tried else None)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmvg.models  # noqa: F401  (registers the backbones)
    mode = 'train, forward + backward' if args.backward else 'eval, forward'
    print(f'sizes in [{args.min_size}, {args.max_size}], {args.num_sizes} random + 4 corners per backbone, '
          f'seed {args.seed}, {mode}, device {args.device}')
    results = []
    for name in args.cases:
        result = sweep(name, args)
        results.append(result)
        status = 'ok' if not result['failures'] else f'{len(result["failures"])} FAILED'
        print(f'{name:20s} {result["type"]:24s} {result["sizes_tried"]:5d} sizes  {result["seconds"]:8.1f} s  '
              f'{status}', flush=True)
        for failure in result['failures']:
            print(f'    {failure["size"]}: {failure["error"]}')
    total = sum(r['sizes_tried'] for r in results)
    failed = sum(len(r['failures']) for r in results)
    print(f'{total} sizes tried over {len(results)} backbones: {failed} failed')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), results=results, sizes_tried=total, failed=failed), f, indent=2)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
