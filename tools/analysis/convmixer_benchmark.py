"""ConvMixer: forward speed against timm on identical weights, and the pyramid archs against PViG's budgets.

Measured within one run of this script:

1. Forward time at 224x224 of ``mmvg.ConvMixer`` against timm's ``convmixer_*`` with the same (converted) weights,
   eval mode, no gradients: as users run inference, so mmvg takes its channels-last in-place inference path (no
   switch; see ``mmvg/models/backbones/convmixer.py``), and timm gets its inference re-parameterisation
   (``timm.utils.reparameterize_model``, which leaves ConvMixer unchanged: timm fuses nothing in it). The models
   alternate (and swap places every repeat) so that load changes hit both; median of the repeats. On CPU the
   forward runs on one intra-op thread and is timed by that thread's CPU time: on a shared machine wall time mostly
   measures the neighbours (a 140 ms forward took 1 to 4 s of wall time with two threads on a loaded 2-core
   machine). Each (arch, batch) pair is timed in a fresh process, so that the order of the archs does not matter:
   glibc raises its mmap and trim thresholds after freeing large blocks, and once an earlier model's 6 MiB tensors
   have been freed, a later model's 1 MiB tensors stop page-faulting (``--same-process`` times them all in this
   process). ``--timm-channels-last`` also times timm with model and input in channels-last memory (PyTorch's
   generic switch) and compares against timm's faster layout.
2. Parameters and FLOPs (``mmengine.analysis.get_model_complexity_info``) of the ``PyramidConvMixer`` classifiers
   (backbone, global pooling, 1000-class Linear) at 224x224 against PViG-Ti/S/M's 10.7M/1.7G, 27.3M/4.6G,
   51.7M/8.9G.
3. On CUDA only: peak memory of ConvMixer-1536/20 forward + backward at 1333x800, batch 1, with and without
   gradient checkpointing (``with_cp``), as ``configs/convmixer/mask_rcnn_convmixer_1536_20.py`` trains it.

    python tools/analysis/convmixer_benchmark.py                      # CPU: about 10 minutes
    python tools/analysis/convmixer_benchmark.py --device cuda --batch 1 64
"""
import argparse
import copy
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn

TIMM_NAMES = {'1536/20': 'convmixer_1536_20', '768/32': 'convmixer_768_32', '1024/20': 'convmixer_1024_20_ks9_p14'}
PVIG_BUDGETS = {'tiny': (10.7, 1.7), 'small': (27.3, 4.6), 'medium': (51.7, 8.9)}


def randomize_norms(model: nn.Module) -> nn.Module:
    """BatchNorm statistics away from the identity, so both models compute something realistic."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def speed_vs_timm(arch: str, device: str, batch: int, repeats: int, timm_channels_last: bool = False) -> dict:
    import timm
    from timm.utils import reparameterize_model

    from mmvg.models import ConvMixer
    from mmvg.models.utils import convert_convmixer
    torch.manual_seed(0)
    ref = randomize_norms(timm.create_model(TIMM_NAMES[arch], pretrained=False)).eval()
    ours = ConvMixer(arch=arch, out_indices=-1).eval()
    converted = convert_convmixer(ref.state_dict())
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in converted.items() if k.startswith('backbone.')},
                         strict=True)
    ref, ours = reparameterize_model(ref).to(device), ours.to(device)
    x = torch.randn(batch, 3, 224, 224, device=device)
    models = dict(ref=ref.forward_features, ours=lambda x: ours(x)[0])
    if timm_channels_last:
        ref_cl = copy.deepcopy(ref).to(memory_format=torch.channels_last)
        models['ref_cl'] = lambda x: ref_cl.forward_features(x.contiguous(memory_format=torch.channels_last))
    with torch.no_grad():  # the same features, or the timing compares different work
        diff = max((models[k](x) - ours(x)[0]).abs().max().item() for k in models if k != 'ours')

    clock = time.perf_counter if device == 'cuda' else time.thread_time

    def timed(fn):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = clock()
        with torch.no_grad():
            fn(x)
        if device == 'cuda':
            torch.cuda.synchronize()
        return clock() - start

    for _ in range(3):  # warm-up (cuDNN algorithm search, allocator)
        for fn in models.values():
            timed(fn)
    times = {name: [] for name in models}
    for i in range(repeats):
        order = list(models)[i % len(models):] + list(models)[:i % len(models)]
        for name in (order if i % 2 else order[::-1]):
            times[name].append(timed(models[name]))
    return dict(diff=diff, **{k: statistics.median(v) for k, v in times.items()})


def pyramid_budget(arch: str) -> dict:
    from mmengine.analysis import get_model_complexity_info

    from mmvg.models import PyramidConvMixer

    class Classifier(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = PyramidConvMixer(arch=arch, out_indices=-1)
            self.head = nn.Linear(self.backbone.out_channels[-1], 1000)

        def forward(self, x):
            return self.head(self.backbone(x)[-1].mean((2, 3)))

    info = get_model_complexity_info(Classifier().eval(), input_shape=(3, 224, 224), show_table=False,
                                     show_arch=False)
    return dict(params=info['params'], flops=info['flops'])


def detection_memory(with_cp: bool) -> float:
    from mmvg.models import ConvMixer
    model = ConvMixer(arch='1536/20', out_indices=-1, with_cp=with_cp).cuda().train()
    x = torch.randn(1, 3, 800, 1333, device='cuda')
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    model(x)[0].float().mean().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--archs', nargs='+', default=list(TIMM_NAMES), choices=list(TIMM_NAMES))
    parser.add_argument('--batch', nargs='+', type=int, default=[1])
    parser.add_argument('--repeats', type=int, default=None, help='timed forwards per model (CPU 20, CUDA 50)')
    parser.add_argument('--timm-channels-last', action='store_true',
                        help="also time timm in channels-last memory and compare against timm's faster layout")
    parser.add_argument('--same-process', action='store_true',
                        help='time every arch in this process instead of one fresh process each')
    parser.add_argument('--speed-only', action='store_true', help='print the timings as JSON and stop (internal)')
    args = parser.parse_args()
    repeats = args.repeats or (50 if args.device == 'cuda' else 20)
    if args.device == 'cpu':
        torch.set_num_threads(1)  # timed by the thread's CPU time, see the module docstring
    if args.speed_only:
        print(json.dumps(speed_vs_timm(args.archs[0], args.device, args.batch[0], repeats, args.timm_channels_last)))
        return

    def speed(arch: str, batch: int) -> dict:
        if args.same_process:
            return speed_vs_timm(arch, args.device, batch, repeats, args.timm_channels_last)
        cmd = [sys.executable, __file__, '--speed-only', '--device', args.device, '--archs', arch, '--batch',
               str(batch), '--repeats', str(repeats)] + ['--timm-channels-last'] * args.timm_channels_last
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f'timing ConvMixer-{arch} failed:\n{proc.stderr.strip()}')
        return json.loads(proc.stdout.splitlines()[-1])

    rows = []
    for arch in args.archs:
        for batch in args.batch:
            t = speed(arch, batch)
            ref = min(t['ref'], t.get('ref_cl', float('inf')))
            layout = ''
            if 'ref_cl' in t:
                layout = f', timm NCHW {t["ref"] * 1000:.1f} ms / channels-last {t["ref_cl"] * 1000:.1f} ms'
            rows.append((f'ConvMixer-{arch} forward 224x224 b{batch}: time, mmvg inference path vs timm (max abs '
                         f'diff {t["diff"]:.1e}{layout})', f'{t["ours"] * 1000:.1f} ms', f'{ref * 1000:.1f} ms',
                         f'{ref / t["ours"]:.3f}x', '>= 1.0x (speed-up)'))
            print(' | '.join(rows[-1]), flush=True)
    for arch, (params, flops) in PVIG_BUDGETS.items():
        b = pyramid_budget(arch)
        rows.append((f'PyramidConvMixer-{arch} classifier 224x224: params / FLOPs vs PViG',
                     f'{b["params"] / 1e6:.2f}M / {b["flops"] / 1e9:.2f}G', f'{params}M / {flops}G',
                     f'{b["params"] / 1e6 / params:.3f}x / {b["flops"] / 1e9 / flops:.3f}x', 'about 1.0x'))
        print(' | '.join(rows[-1]), flush=True)
    if args.device == 'cuda':
        cp, plain = detection_memory(True), detection_memory(False)
        rows.append(('ConvMixer-1536/20 fwd+bwd 1333x800 b1: peak memory, with_cp vs without',
                     f'{cp / 2**30:.2f} GiB', f'{plain / 2**30:.2f} GiB', f'{cp / plain:.2f}x', '(smaller)'))

    device = torch.cuda.get_device_name() if args.device == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'\n{device}, torch {torch.__version__}\n')
    print('| comparison | mmvg | reference | ratio | goal |\n|---|---|---|---|---|')
    for r in rows:
        print('| ' + ' | '.join(r) + ' |')


if __name__ == '__main__':
    main()
