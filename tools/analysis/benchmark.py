"""Every backbone: parameters, FLOPs, forward throughput and forward+backward peak memory, beside reference peers.

For each registered arch of the four families (``arch_zoo`` of ``PyramidViG``, ``ViG``, ``PyramidConvMixer``,
``ConvMixer``, ``VisionPermutator``, ``ContextCluster``; aliases such as ``'s'``/``'small'`` count once) or a chosen
subset, at each input size (default 224x224 and 1344x800, batch 1):

* **params**: ``sum(p.numel())`` of the backbone as built (no classifier head).
* **GFLOPs**: multiply-adds of one forward of one image (the papers' "FLOPs"), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, the KNN distance products of the
  graph backbones included). ``--flop-counter mmengine`` uses ``mmengine.analysis.FlopAnalyzer`` instead, whose
  jit trace cannot follow ViP's windowed mixing and does not count ``baddbmm`` (the KNN distances).
* **forward img/s**: batch / median time of eval-mode forwards without gradients, up to ``--repeats`` of them per
  model or fewer once ``--time-budget`` seconds are spent. All models of one size are timed in interleaved rounds
  (after a warm-up forward each, the order rotating every round), so that a change of the machine's load hits them
  alike; each model is built once and kept for the whole run. On CPU with one thread the time is the thread's CPU
  time (``_measure.clock``): on a shared machine wall time mostly measures the neighbours.
* **fwd+bwd peak**: peak memory of one train-mode forward + backward (of the sum of the outputs' means) above the
  memory in use before it (weights and input excluded, parameter gradients included). On CPU each case runs in a
  fresh process (peak RSS, glibc's mmap threshold lowered so freed tensors leave the RSS); on CUDA it is
  ``torch.cuda.max_memory_allocated``.

Reference peers run in the same process with the same protocol: ResNet-50 (mmdet's backbone), mmpretrain's
``PyramidVig``/``Vig`` (fixed 224 position embeddings: above 224 they fail and are reported as "n/a (fails: ...)"),
mmpretrain's and timm's ConvMixer (timm's ``forward_features``: timm has no ``features_only`` for it) and the same
PViG with the official dense KNN (``dense_knn=True``). ``--peers auto`` (default) adds ResNet-50 and the peers of the
chosen models. A case whose FLOPs, extrapolated from the model's smallest size, exceed ``--max-gflops``, or that
matches ``--skip NAME_GLOB[@SIZE]``, is reported as skipped (e.g. ConvMixer-1536/20 at 1344x800, 1.1 TMACs and
about 19 GiB of activations for the backward pass). Sizes are WIDTHxHEIGHT, or one number for a square.

``--growth NAME ...`` also measures those models at ``--growth-sizes`` (default 224, 448, 672x400, 1344x800) and
plots time and memory against the number of pixels (log-log, with the fitted exponent: 1 is linear, 2 quadratic).

Outputs in ``--out-dir`` (default work_dirs/benchmark): ``benchmark.csv``, ``growth.csv``, ``benchmark.md`` (the
tables, ratios to the peers, the machine and the command), ``size_scaling.png`` and ``growth.png``.

    python tools/analysis/benchmark.py --list                                  # the model names
    python tools/analysis/benchmark.py --quick --threads 1                     # a small subset, 224 and 672x400
    python tools/analysis/benchmark.py --models pvig-s coc-small 'vip-*' --sizes 224 1344x800
    python tools/analysis/benchmark.py --models pvig-small --growth pvig-small pvig-small-dense
    python tools/analysis/benchmark.py --spec 'mine={"type": "mmvg.PyramidViG", "arch": {"depths": [1, 1, 2, 1],
        "embed_dims": [16, 24, 32, 40]}}' --sizes 64 128                      # an arch dict of your own
"""
import argparse
import csv
import datetime
import fnmatch
import json
import math
import os
import os.path as osp
import platform
import re
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, fields
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # the sibling modules, also when imported from elsewhere
from _measure import MiB, SubprocessFailed, peak_memory, run_json_subprocess, timed  # noqa: E402
from convmixer_benchmark import TIMM_NAMES  # noqa: E402

DEFAULT_SIZES = ['224', '1344x800']
GROWTH_SIZES = ['224', '448', '672x400', '1344x800']
QUICK_MODELS = ['pvig-tiny', 'pconvmixer-tiny', 'convmixer-1024_20', 'vip-tiny', 'coc-tiny']
QUICK_SIZES = ['224', '672x400']
# family prefix -> mmvg class; the order of the tables
FAMILIES = {'pvig': 'PyramidViG', 'vig': 'ViG', 'pconvmixer': 'PyramidConvMixer', 'convmixer': 'ConvMixer',
            'vip': 'VisionPermutator', 'coc': 'ContextCluster'}
# Constructor arguments besides the arch: an isotropic ConvMixer gives its last map (as timm's forward_features, and
# as the detection configs feed it to SimplePyramid).
FAMILY_KWARGS = {'ConvMixer': dict(out_indices=-1)}


# -- the models -------------------------------------------------------------------------------------------------------
@dataclass
class ModelSpec:
    """A model of the benchmark: a name, a JSON-serialisable build config and what it is compared with.

    ``cfg['type']`` is ``'<lib>.<name>'`` with lib one of mmvg, mmdet, mmpretrain (backbone classes) or timm (a model
    name, run through ``forward_features``); the other keys are constructor arguments.
    """
    name: str
    cfg: dict
    source: str = 'mmvg'
    aliases: Tuple[str, ...] = ()
    peers: Tuple[str, ...] = ()


class TimmFeatures(nn.Module):
    """A timm classifier as a backbone: ``forward_features`` as a one-map tuple; the head is not built."""

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__()
        import timm
        self.model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        return (self.model.forward_features(x), )


def build_model(cfg: dict) -> nn.Module:
    """Build the model of a :class:`ModelSpec` config (see there)."""
    kwargs = dict(cfg)
    lib, _, name = kwargs.pop('type').partition('.')
    if lib == 'timm':
        return TimmFeatures(name, **kwargs)
    if lib == 'mmvg':
        import mmvg.models as module
    elif lib == 'mmdet':
        import mmdet.models.backbones as module
    elif lib == 'mmpretrain':
        import mmpretrain.models.backbones as module
    else:
        raise ValueError(f'Unknown model library {lib!r} in type {cfg["type"]!r}: use mmvg, mmdet, mmpretrain or timm.')
    return getattr(module, name)(**kwargs)


def arch_groups(arch_zoo: Dict[str, dict]) -> List[List[str]]:
    """The names of each distinct arch of an ``arch_zoo``, in table order (aliases share one settings dict)."""
    groups: Dict[str, List[str]] = {}
    for key, settings in arch_zoo.items():
        groups.setdefault(json.dumps(settings, sort_keys=True), []).append(key)
    return list(groups.values())


def catalog() -> Dict[str, ModelSpec]:
    """Every registered mmvg arch and every reference peer, by canonical name."""
    import mmvg.models as mmvg_models
    specs: Dict[str, ModelSpec] = {}
    for prefix, cls_name in FAMILIES.items():
        for keys in arch_groups(getattr(mmvg_models, cls_name).arch_zoo):
            arch = max(keys, key=lambda k: (len(k), '/' not in k))  # 'small' over 's', '1536_20' over '1536/20'
            name = f'{prefix}-{arch.replace("/", "_")}'
            aliases = {f'{prefix}-{k}' for k in keys} | {f'{prefix}-{k.replace("/", "_")}' for k in keys}
            aliases = tuple(sorted(aliases - {name}))
            peers = ['resnet50']
            if prefix == 'pvig':
                peers = [f'mmpretrain-pvig-{arch}', f'pvig-{arch}-dense'] + peers
            elif prefix == 'vig':
                peers = [f'mmpretrain-vig-{arch}'] + peers
            elif prefix == 'convmixer':
                peers = [f'timm-convmixer-{arch.replace("/", "_")}', f'mmpretrain-convmixer-{arch.replace("/", "_")}'
                         ] + peers
            specs[name] = ModelSpec(name, dict(type=f'mmvg.{cls_name}', arch=arch, **FAMILY_KWARGS.get(cls_name, {})),
                                    aliases=aliases, peers=tuple(p for p in peers))
    peers = [ModelSpec('resnet50', dict(type='mmdet.ResNet', depth=50, out_indices=(0, 1, 2, 3)), 'mmdet')]
    for arch in ('tiny', 'small', 'medium', 'base'):
        peers.append(ModelSpec(f'mmpretrain-pvig-{arch}', dict(type='mmpretrain.PyramidVig', arch=arch,
                                                               out_indices=(0, 1, 2, 3)), 'mmpretrain'))
        peers.append(ModelSpec(f'pvig-{arch}-dense', dict(type='mmvg.PyramidViG', arch=arch, dense_knn=True),
                               'mmvg, dense KNN'))
    for arch in ('tiny', 'small', 'base'):
        peers.append(ModelSpec(f'mmpretrain-vig-{arch}', dict(type='mmpretrain.Vig', arch=arch), 'mmpretrain'))
    for arch, timm_name in TIMM_NAMES.items():
        tag = arch.replace('/', '_')
        peers.append(ModelSpec(f'timm-convmixer-{tag}', dict(type=f'timm.{timm_name}'), 'timm'))
        peers.append(ModelSpec(f'mmpretrain-convmixer-{tag}', dict(type='mmpretrain.ConvMixer', arch=arch),
                               'mmpretrain'))
    for spec in peers:
        specs[spec.name] = spec
    for spec in specs.values():  # only peers that exist (mmvg archs without an mmpretrain twin)
        spec.peers = tuple(p for p in spec.peers if p in specs)
    return specs


def select(patterns: Sequence[str], specs: Dict[str, ModelSpec], add_peers: bool = False) -> List[ModelSpec]:
    """The specs named by ``patterns``: a name or alias, else a glob, else a regular expression over the names.

    With ``add_peers``, the peers of the chosen models follow them (ResNet-50 last).
    """
    chosen: List[ModelSpec] = []

    def add(spec):
        if spec not in chosen:
            chosen.append(spec)

    for pattern in patterns:
        hits = [s for s in specs.values() if pattern == s.name or pattern in s.aliases]
        if not hits and any(c in pattern for c in '*?['):
            hits = [s for s in specs.values() if fnmatch.fnmatchcase(s.name, pattern)]
        if not hits:
            try:
                hits = [s for s in specs.values() if re.fullmatch(pattern, s.name)]
            except re.error:
                hits = []
        if not hits:
            raise SystemExit(f'{pattern!r} matches no model. Choose from: {", ".join(specs)} (or see --list).')
        for spec in hits:
            add(spec)
    if add_peers:
        peers = [specs[p] for spec in list(chosen) for p in spec.peers]
        for spec in sorted(peers, key=lambda s: s.name == 'resnet50'):
            add(spec)
    return chosen


# -- sizes ------------------------------------------------------------------------------------------------------------
def parse_size(text: str) -> Tuple[int, int]:
    """``'224'`` -> (224, 224); ``'1344x800'`` (width x height) -> (800, 1344) as (height, width)."""
    match = re.fullmatch(r'\s*(\d+)\s*(?:[x×*,]\s*(\d+))?\s*', str(text))
    if not match:
        raise argparse.ArgumentTypeError(f'a size is WIDTHxHEIGHT or one number, got {text!r}')
    w = int(match.group(1))
    h = int(match.group(2) or w)
    if min(h, w) < 1:
        raise argparse.ArgumentTypeError(f'a size must be positive, got {text!r}')
    return h, w


def size_label(size: Tuple[int, int]) -> str:
    h, w = size
    return f'{w}x{h}'


# -- measurements -----------------------------------------------------------------------------------------------------
@dataclass
class Result:
    """One (model, input size) case. ``None`` where not measured; ``status`` ok, partial, skipped or failed."""
    model: str
    source: str
    size: str
    height: int
    width: int
    batch: int
    params: Optional[int] = None
    flops: Optional[float] = None  # multiply-adds of one forward of one image
    forward_s: Optional[float] = None  # median seconds of one forward of the batch
    img_per_s: Optional[float] = None
    peak_bytes: Optional[float] = None  # forward + backward, above the memory in use before
    status: str = 'ok'
    note: str = ''
    repeats: int = 0
    seconds: float = 0.  # what the case took to measure, in wall time

    @property
    def pixels(self) -> int:
        return self.height * self.width


def describe_error(exc: BaseException, limit: int = 160) -> str:
    """One line: the exception's type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    text = f'{type(exc).__name__}: {lines[0] if lines else ""}'.rstrip(': ')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def add_note(r: Result, text: str) -> None:
    """Put ``text`` first in the case's note (a failure or skip matters more than what was noted before)."""
    r.note = f'{text}; {r.note}' if r.note else text


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, x: torch.Tensor, counter: str = 'torch') -> float:
    """Multiply-adds of ``model(x)`` (eval mode, no gradients)."""
    with torch.no_grad():
        if counter == 'mmengine':
            from mmengine.analysis import FlopAnalyzer
            analyzer = FlopAnalyzer(model, (x, ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            return float(analyzer.total())
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as mode:
            model(x)
        return mode.get_total_flops() / 2  # torch counts a multiply-add as 2 FLOPs


def memory_case(cfg: dict, height: int, width: int, batch: int, device: str, model: Optional[nn.Module] = None
                ) -> dict:
    """Peak memory of one train-mode forward + backward of a fresh model (or ``model``), in bytes."""
    if model is None:
        torch.manual_seed(0)
        model = build_model(cfg).to(device)
    model.train()
    x = torch.randn(batch, 3, height, width, device=device)

    def step():
        outs = model(x)
        outs = outs if isinstance(outs, (tuple, list)) else (outs, )
        sum(o.float().mean() for o in outs).backward()

    start = time.perf_counter()
    peak = peak_memory(step, device)
    model.zero_grad(set_to_none=True)
    return dict(peak=peak, seconds=time.perf_counter() - start)


def run_memory_case(spec: ModelSpec, size: Tuple[int, int], batch: int, device: str, timeout: Optional[float],
                    model: Optional[nn.Module] = None) -> dict:
    """:func:`memory_case` in a fresh process on CPU (peak RSS is per process), in this process on CUDA."""
    if device.startswith('cuda'):
        torch.cuda.empty_cache()
        return memory_case(spec.cfg, *size, batch, device, model=model)
    case = dict(cfg=spec.cfg, height=size[0], width=size[1], batch=batch, device=device)
    cmd = [sys.executable, osp.abspath(__file__), '--threads', str(torch.get_num_threads()), '--case', json.dumps(case)]
    return run_json_subprocess(cmd, threads=torch.get_num_threads(), timeout=timeout)


def skip_reason(spec: ModelSpec, size: Tuple[int, int], skip: Sequence[str]) -> Optional[str]:
    """Why ``--skip`` skips this case (a ``NAME_GLOB`` or ``NAME_GLOB@SIZE`` rule), or None."""
    for rule in skip:
        name, _, at = rule.partition('@')
        names = (spec.name, ) + spec.aliases
        if any(fnmatch.fnmatchcase(n, name) for n in names) and (not at or parse_size(at) == tuple(size)):
            return f'skipped (--skip {rule})'
    return None


@dataclass
class Options:
    """How to measure; the command-line options of the same names."""
    device: str = 'cpu'
    batch: int = 1
    repeats: int = 5
    time_budget: float = 20.
    max_gflops: float = float('inf')
    skip: Sequence[str] = ()
    memory: bool = True
    flop_counter: str = 'torch'
    case_timeout: Optional[float] = 1800.


class Progress:
    """One line per case (its number, the time since the start, what was measured), one per timing phase."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.stream = stream or sys.stdout

    def elapsed(self) -> str:
        return f'+{datetime.timedelta(seconds=round(time.perf_counter() - self.start))}'

    def begin(self, spec: ModelSpec, label: str) -> None:
        self.done += 1
        print(f'[{self.done:{len(str(self.total))}d}/{self.total} {self.elapsed()}] {spec.name} {label}: ', end='',
              file=self.stream, flush=True)

    def end(self, result: Result) -> None:
        print(summary(result), file=self.stream, flush=True)

    def timing(self, label: str, cases: Sequence[Tuple[ModelSpec, Result]], seconds: float) -> None:
        rates = ', '.join(f'{spec.name} {r.img_per_s:.3g} img/s ({r.repeats})' if r.img_per_s else f'{spec.name} n/a'
                          for spec, r in cases)
        print(f'[timing {label} {self.elapsed()}] {len(cases)} models interleaved, {seconds:.0f} s: {rates}',
              file=self.stream, flush=True)


def summary(r: Result) -> str:
    """The progress line of a case."""
    parts = []
    if r.params is not None:
        parts.append(f'{r.params / 1e6:.2f}M params')
    if r.flops is not None:
        parts.append(f'{r.flops / 1e9:.2f} GFLOPs')
    if r.img_per_s is not None:
        parts.append(f'{r.img_per_s:.3g} img/s (median of {r.repeats})')
    if r.peak_bytes is not None:
        parts.append(f'fwd+bwd peak {r.peak_bytes / MiB:.0f} MiB')
    if r.note:
        parts.append(r.note)
    return ' | '.join(parts) + f' [{r.seconds:.0f} s]'


def measure(cases: Sequence[Tuple[ModelSpec, Tuple[int, int]]], opts: Options, progress: Optional[Progress] = None
            ) -> Dict[Tuple[str, str], Result]:
    """Measure each (spec, size) case once; returns {(name, size label): result}.

    Sizes run from the smallest: at each size first every model's FLOPs (a forward that also warms it up) and
    fwd+bwd memory, one case at a time, then the forward times of all of that size's models in interleaved rounds
    (the order rotating), so that a change of the machine's load hits every model alike. Each model is built once
    and kept for the whole run.
    """
    by_size: Dict[Tuple[int, int], List[ModelSpec]] = {}
    for spec, size in cases:
        size = tuple(size)
        if spec not in by_size.setdefault(size, []):
            by_size[size].append(spec)
    results: Dict[Tuple[str, str], Result] = {}
    built: Dict[str, Tuple[Optional[nn.Module], str, Optional[int], str]] = {}
    bases: Dict[str, Tuple[float, int]] = {}  # the FLOPs of a model's smallest measured size, to extrapolate from
    for size in sorted(by_size, key=lambda s: (s[0] * s[1], s)):
        timing = []
        for spec in by_size[size]:
            if progress:
                progress.begin(spec, size_label(size))
            start = time.perf_counter()
            if spec.name not in built:
                built[spec.name] = build_for_benchmark(spec, opts.device)
            model, error, params, frozen = built[spec.name]
            r = Result(spec.name, spec.source, size_label(size), size[0], size[1], opts.batch, params=params,
                       note=frozen)
            reason = skip_reason(spec, size, opts.skip)
            base = bases.get(spec.name)
            if reason is None and base and math.isfinite(opts.max_gflops):
                estimate = base[0] * r.pixels / base[1]
                if estimate / 1e9 > opts.max_gflops:
                    reason = (f'skipped (~{estimate / 1e9:.0f} GFLOPs, extrapolated, > --max-gflops '
                              f'{opts.max_gflops:g})')
            if error:
                r.status, r.note = 'failed', f'n/a (fails to build: {error})'
            elif reason:
                r.status = 'skipped'
                add_note(r, reason)
            else:
                flops_and_memory(model, spec, size, opts, r)
                if r.flops and spec.name not in bases:
                    bases[spec.name] = (r.flops, r.pixels)
                if r.status != 'failed':
                    timing.append((spec, r))
            r.seconds = time.perf_counter() - start
            results[(spec.name, r.size)] = r
            if progress:
                progress.end(r)
        if timing:
            start = time.perf_counter()
            interleaved_times(timing, {spec.name: built[spec.name][0] for spec, _ in timing}, size, opts)
            if progress:
                progress.timing(size_label(size), timing, time.perf_counter() - start)
    return results


def build_for_benchmark(spec: ModelSpec, device: str) -> Tuple[Optional[nn.Module], str, Optional[int], str]:
    """(model in eval mode, build error, params, note on frozen params); a model that cannot be built is a row."""
    try:
        torch.manual_seed(0)
        model = build_model(spec.cfg).to(device)
    except Exception as exc:  # noqa: BLE001 -- a peer that cannot be built is a row, not a crash
        return None, describe_error(exc), None, ''
    model.eval()  # mmpretrain's train() returns None: no chaining
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return model, '', count_params(model), (f'{frozen / 1e6:.2f}M of the params are frozen (requires_grad=False)'
                                            if frozen else '')


def flops_and_memory(model: nn.Module, spec: ModelSpec, size: Tuple[int, int], opts: Options, r: Result) -> None:
    """FLOPs (a forward that also warms the model up) and fwd+bwd memory of one case, into ``r``."""
    device = opts.device
    x = torch.randn(1, 3, *size, device=device)
    try:
        if opts.flop_counter == 'torch':
            r.flops = count_flops(model, x)
        else:
            with torch.no_grad():
                model(x)
    except Exception as exc:  # noqa: BLE001 -- e.g. mmpretrain's PyramidVig above 224
        r.status = 'failed'
        add_note(r, f'n/a (fails: {describe_error(exc)})')
        return
    if opts.flop_counter != 'torch':
        try:
            r.flops = count_flops(model, x, opts.flop_counter)
        except Exception as exc:  # noqa: BLE001 -- its jit trace cannot follow every model (ViP)
            add_note(r, f'FLOPs n/a ({opts.flop_counter}: {describe_error(exc)})')
    if not opts.memory:
        return
    try:
        r.peak_bytes = run_memory_case(spec, size, opts.batch, device, opts.case_timeout, model=model)['peak']
    except SubprocessFailed as exc:
        r.status = 'partial'
        add_note(r, f'memory n/a ({exc})')
    except (RuntimeError, MemoryError) as exc:  # CUDA out of memory
        r.status = 'partial'
        add_note(r, f'memory n/a ({describe_error(exc)})')
    finally:
        model.eval()


def interleaved_times(cases: Sequence[Tuple[ModelSpec, Result]], models: Dict[str, nn.Module],
                      size: Tuple[int, int], opts: Options) -> None:
    """Forward times of several models at one size, in rounds; into each result (median, number of forwards).

    Every model gets an untimed warm-up forward of the batch, then takes part in rounds until it has run
    ``opts.repeats`` timed forwards or spent ``opts.time_budget`` seconds; each round starts one model later.
    """
    x = torch.randn(opts.batch, 3, *size, device=opts.device)
    times: Dict[str, List[float]] = {spec.name: [] for spec, _ in cases}
    active = list(cases)
    with torch.no_grad():
        for spec, r in list(active):
            try:
                models[spec.name](x)
            except Exception as exc:  # noqa: BLE001 -- e.g. out of memory at a batch size above 1
                r.status = 'failed'
                add_note(r, f'n/a (fails: {describe_error(exc)})')
                active.remove((spec, r))
        turn = 0
        while active:
            order = active[turn % len(active):] + active[:turn % len(active)]
            turn += 1
            for spec, r in order:
                model = models[spec.name]
                times[spec.name].append(timed(lambda: model(x), opts.device))
                if len(times[spec.name]) >= opts.repeats or sum(times[spec.name]) >= opts.time_budget:
                    active.remove((spec, r))
    for spec, r in cases:
        if times[spec.name]:
            r.forward_s, r.repeats = statistics.median(times[spec.name]), len(times[spec.name])
            r.img_per_s = opts.batch / r.forward_s


# -- reports ----------------------------------------------------------------------------------------------------------
CSV_FIELDS = [f.name for f in fields(Result)]


def write_csv(results: Sequence[Result], path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))


def fmt(value: Optional[float], spec: str, scale: float = 1.) -> str:
    return 'n/a' if value is None else format(value / scale, spec)


def results_table(results: Sequence[Result]) -> List[str]:
    """The main table in Markdown."""
    lines = ['| model | source | input (W×H) | params (M) | GFLOPs | forward img/s | fwd+bwd peak (MiB) | notes |',
             '|---|---|---|---|---|---|---|---|']
    for r in results:
        note = r.note.replace('|', '\\|')
        lines.append(f'| {r.model} | {r.source} | {r.size.replace("x", "×")} | {fmt(r.params, ".2f", 1e6)} | '
                     f'{fmt(r.flops, ".2f", 1e9)} | {fmt(r.img_per_s, ".3g")} | {fmt(r.peak_bytes, ".0f", MiB)} '
                     f'| {note} |')
    return lines


def ratio_rows(results: Sequence[Result], specs: Dict[str, ModelSpec]) -> List[Tuple[Result, Result]]:
    """(model, peer) pairs measured at the same size in this run."""
    by_key = {(r.model, r.size): r for r in results}
    pairs = []
    for r in results:
        spec = specs.get(r.model)
        if spec is None or spec.source != 'mmvg':
            continue
        for peer in spec.peers:
            if (peer, r.size) in by_key:
                pairs.append((r, by_key[(peer, r.size)]))
    return pairs


def ratio(a: Optional[float], b: Optional[float], peer_status: str = 'ok') -> str:
    """``a / b`` as ``'0.60×'``; n/a where either is missing."""
    if a is None or b is None or not b:
        return 'n/a' + (f' (peer {peer_status})' if b is None and peer_status in ('failed', 'skipped') else '')
    return f'{a / b:.2f}×'


def ratios_table(pairs: Sequence[Tuple[Result, Result]]) -> List[str]:
    lines = ['| model | peer | input (W×H) | params | GFLOPs | forward throughput (>1: faster) | '
             'fwd+bwd peak memory (<1: less) |', '|---|---|---|---|---|---|---|']
    for r, p in pairs:
        lines.append(f'| {r.model} | {p.model} | {r.size.replace("x", "×")} | {ratio(r.params, p.params)} | '
                     f'{ratio(r.flops, p.flops, p.status)} | {ratio(r.img_per_s, p.img_per_s, p.status)} | '
                     f'{ratio(r.peak_bytes, p.peak_bytes, p.status)} |')
    return lines


def exponent(points: Sequence[Tuple[float, float]]) -> Optional[float]:
    """Growth exponent between the last two points (pixels, value): 1 linear, 2 quadratic."""
    pts = [(x, y) for x, y in points if y]
    if len(pts) < 2 or pts[-1][0] == pts[-2][0]:
        return None
    (x0, y0), (x1, y1) = pts[-2:]
    return math.log(y1 / y0) / math.log(x1 / x0)


def series(results: Sequence[Result]) -> Dict[str, Dict[str, List[Tuple[float, float]]]]:
    """Per model: (pixels, ms per image), (pixels, fwd+bwd peak GiB) and (pixels, GFLOPs), by pixels."""
    out: Dict[str, Dict[str, List[Tuple[float, float]]]] = {}
    for r in sorted(results, key=lambda r: r.pixels):
        s = out.setdefault(r.model, dict(time=[], memory=[], flops=[]))
        if r.flops:
            s['flops'].append((r.pixels, r.flops / 1e9))
        if r.forward_s:
            s['time'].append((r.pixels, r.forward_s / r.batch * 1000))
        if r.peak_bytes:
            s['memory'].append((r.pixels, r.peak_bytes / 2**30))
    return out


def growth_table(results: Sequence[Result], sizes: Sequence[Tuple[int, int]]) -> List[str]:
    labels = [size_label(s) for s in sizes]
    head = ' | '.join(lbl.replace('x', '×') for lbl in labels)
    lines = [f'| model | measure | {head} | exponent (last two sizes) |', '|---' * (len(labels) + 3) + '|']
    by_key = {(r.model, r.size): r for r in results}
    for name, s in series(results).items():
        for what, key, unit, get in (
                ('GFLOPs', 'flops', '.1f', lambda r: r.flops and r.flops / 1e9),
                ('forward ms/img', 'time', '.0f', lambda r: r.forward_s and r.forward_s / r.batch * 1000),
                ('fwd+bwd peak MiB', 'memory', '.0f', lambda r: r.peak_bytes and r.peak_bytes / MiB)):
            cells = []
            for lbl in labels:
                r = by_key.get((name, lbl))
                cells.append('–' if r is None else ('n/a' if not get(r) else format(get(r), unit)))
            e = exponent(s[key])
            lines.append(f'| {name} | {what} | {" | ".join(cells)} | {"n/a" if e is None else f"{e:.2f}"} |')
    return lines


def plot(results: Sequence[Result], path: str, title: str) -> bool:
    """Time per image and fwd+bwd peak memory against pixels, log-log, peers dashed; False where nothing has two
    sizes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    data = {k: v for k, v in series(results).items() if len(v['time']) > 1 or len(v['memory']) > 1}
    if not data:
        return False
    peers = {r.model for r in results if r.source != 'mmvg'}
    palette = plt.get_cmap('tab10').colors  # one cycle for mmvg's models (solid), one for the peers (dashed)
    colors = {name: palette[i % 10] for group in ([n for n in data if n not in peers], [n for n in data if n in peers])
              for i, name in enumerate(group)}
    rows = math.ceil((len(data) + 2) / 2)  # legend rows below each panel, two columns
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6 + 0.14 * rows))
    ticks = sorted({(r.pixels, r.size.replace('x', '×')) for r in results})
    for ax, what, ylabel in ((axes[0], 'time', 'forward ms per image'), (axes[1], 'memory', 'fwd+bwd peak GiB')):
        lows = []
        for name, s in data.items():
            pts = s[what]
            if len(pts) < 2:
                continue
            e = exponent(pts)
            ax.plot([p for p, _ in pts], [v for _, v in pts], '--' if name in peers else '-', marker='o', ms=3,
                    color=colors[name], label=f'{name} (exponent {e:.2f})' if e is not None else name)
            lows.append(pts[0])
        if lows:  # guides through the lowest first point: linear and quadratic growth
            x0, y0 = min(lows, key=lambda p: (p[0], p[1]))
            xs = [t[0] for t in ticks if t[0] >= x0]
            ax.plot(xs, [y0 * x / x0 for x in xs], ':', color='0.4', lw=1, label='∝ pixels (linear)')
            ax.plot(xs, [y0 * (x / x0)**2 for x in xs], ':', color='0.75', lw=1.5, label='∝ pixels² (quadratic)')
            ax.legend(fontsize=6.5, ncol=2, loc='upper center', bbox_to_anchor=(.5, -.22), frameon=False)
        else:
            ax.text(.5, .5, 'not measured', ha='center', transform=ax.transAxes)
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks], fontsize=7, rotation=30)
        ax.minorticks_off()
        ax.set_xlabel('input W×H (axis: pixels, log scale)', fontsize=8)
        ax.set_ylabel(ylabel + ' (log scale)', fontsize=8)
        ax.grid(True, which='major', alpha=.3)
    fig.suptitle(title + '; peers dashed; exponent between the two largest sizes (1 linear, 2 quadratic)', fontsize=8)
    fig.savefig(path, dpi=80, bbox_inches='tight')
    plt.close(fig)
    return True


def machine_line(opts: Options, threads: int) -> str:
    """The machine, in words."""
    if opts.device.startswith('cuda'):
        where = f'{torch.cuda.get_device_name()}'
    else:
        cpu = platform.processor() or platform.machine()
        try:
            with open('/proc/cpuinfo') as f:
                cpu = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.M).group(1).strip()
        except (OSError, AttributeError):
            pass
        where = f'{cpu}, {os.cpu_count()} cores, {threads} intra-op thread(s)'
    return f'{where}, torch {torch.__version__}, Python {platform.python_version()}'


def load() -> str:
    try:
        return f'{os.getloadavg()[0]:.1f}'
    except OSError:
        return '?'


def write_reports(results: Sequence[Result], growth: Sequence[Result], growth_sizes: Sequence[Tuple[int, int]],
                  specs: Dict[str, ModelSpec], out_dir: str, meta: dict) -> Dict[str, str]:
    """CSV, Markdown and PNG files in ``out_dir``; returns {kind: path} of what was written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(csv=osp.join(out_dir, 'benchmark.csv'), markdown=osp.join(out_dir, 'benchmark.md'))
    write_csv(results, paths['csv'])
    lines = [f'Measured {meta["date"]} on {meta["machine"]}; load average {meta["load_start"]} at the start, '
             f'{meta["load_end"]} at the end; {meta["minutes"]:.1f} minutes.', '',
             '```', meta['command'], '```', '']
    lines += results_table(results) + ['']
    unique = {(r.model, r.size): r for r in list(results) + list(growth)}  # growth repeats some main cases
    order = {name: i for i, name in enumerate(dict.fromkeys(r.model for r in unique.values()))}
    pairs = ratio_rows(sorted(unique.values(), key=lambda r: (order[r.model], r.pixels)), specs)
    if pairs:
        lines += ['Ratios to the peers (mmvg / peer, same run, same size):', ''] + ratios_table(pairs) + ['']
    if plot(results, osp.join(out_dir, 'size_scaling.png'), f'All backbones, batch {meta["batch"]}'):
        paths['size_scaling'] = osp.join(out_dir, 'size_scaling.png')
        lines += ['![time and memory against input size](size_scaling.png)', '']
    if growth:
        paths['growth_csv'] = osp.join(out_dir, 'growth.csv')
        write_csv(growth, paths['growth_csv'])
        lines += ['Growth with the input size:', ''] + growth_table(growth, growth_sizes) + ['']
        if plot(growth, osp.join(out_dir, 'growth.png'), f'Growth with input size, batch {meta["batch"]}'):
            paths['growth'] = osp.join(out_dir, 'growth.png')
            lines += ['![growth of time and memory with input size](growth.png)', '']
    with open(paths['markdown'], 'w') as f:
        f.write('\n'.join(lines))
    return paths


# -- command line -----------------------------------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='\n\n'.join(__doc__.split('\n\n')[1:]))
    parser.add_argument('--models', nargs='+', metavar='NAME',
                        help='names, aliases, globs or regular expressions (default: every mmvg arch; see --list)')
    parser.add_argument('--quick', action='store_true',
                        help=f'a small subset: {" ".join(QUICK_MODELS)} (and their peers) at {" ".join(QUICK_SIZES)}, '
                        '2 repeats')
    parser.add_argument('--spec', action='append', default=[], metavar='NAME=JSON',
                        help='a model of your own: NAME={"type": "mmvg.PyramidViG", "arch": {...}, ...}')
    parser.add_argument('--peers', choices=['auto', 'none'], default='auto',
                        help='auto: add ResNet-50 and the peers of the chosen models')
    parser.add_argument('--sizes', nargs='+', metavar='WxH',
                        help=f'input sizes (default {" ".join(DEFAULT_SIZES)}; --quick: {" ".join(QUICK_SIZES)})')
    parser.add_argument('--growth', nargs='+', default=[], metavar='NAME', help='models measured at --growth-sizes')
    parser.add_argument('--growth-sizes', nargs='+', default=GROWTH_SIZES, metavar='WxH')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=None, help='timed forwards per case at most (default 5)')
    parser.add_argument('--time-budget', type=float, default=20., help='seconds of timed forwards per case')
    parser.add_argument('--max-gflops', type=float, default=400.,
                        help='skip time and memory of cases above this many GFLOPs, extrapolated from the model\'s '
                        'smallest size (default 400: ConvMixer-1536/20 and -768/32 at 1344x800; inf for none)')
    parser.add_argument('--skip', nargs='+', default=[], metavar='NAME_GLOB[@WxH]', help='cases to skip')
    parser.add_argument('--no-memory', action='store_true', help='do not measure fwd+bwd memory')
    parser.add_argument('--flop-counter', choices=['torch', 'mmengine'], default='torch')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=1, help='CPU intra-op threads (1: timed by thread CPU time)')
    parser.add_argument('--case-timeout', type=float, default=1800., help='seconds per memory subprocess')
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    parser.add_argument('--list', action='store_true', help='print the model names and aliases, then exit')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # internal: one memory case in a fresh process
    args = parser.parse_args(argv)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    for name in ('sizes', 'growth_sizes'):
        try:
            setattr(args, name, [parse_size(s) for s in getattr(args, name)])
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
    for rule in args.skip:
        if '@' in rule:
            try:
                parse_size(rule.partition('@')[2])
            except argparse.ArgumentTypeError as exc:
                parser.error(f'--skip {rule}: {exc}')
    return args


def custom_specs(items: Sequence[str]) -> Dict[str, ModelSpec]:
    specs = {}
    for item in items:
        name, sep, text = item.partition('=')
        try:
            cfg = json.loads(text)
            assert sep and name and isinstance(cfg, dict) and '.' in cfg.get('type', '')
        except (ValueError, AssertionError):
            raise SystemExit(f'--spec wants NAME={{"type": "mmvg.PyramidViG", ...}}, got {item!r}') from None
        source = cfg['type'].partition('.')[0]
        specs[name] = ModelSpec(name, cfg, source)
    return specs


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Run the benchmark; returns the paths written."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(memory_case(case['cfg'], case['height'], case['width'], case['batch'], case['device'])))
        return {}
    specs = {**catalog(), **custom_specs(args.spec)}
    if args.list:
        for spec in specs.values():
            aliases = f' (also {", ".join(spec.aliases)})' if spec.aliases else ''
            print(f'{spec.name:32s} {spec.source:16s} {json.dumps(spec.cfg)}{aliases}')
        return {}
    patterns = args.models or (QUICK_MODELS if args.quick else ([] if args.spec else
                                                                [s.name for s in specs.values() if s.source == 'mmvg']))
    patterns = list(patterns) + [item.partition('=')[0] for item in args.spec]
    chosen = select(patterns, specs, add_peers=args.peers == 'auto')
    growth_specs = select(args.growth, specs) if args.growth else []
    opts = Options(device=args.device, batch=args.batch, repeats=args.repeats or (2 if args.quick else 5),
                   time_budget=args.time_budget, max_gflops=args.max_gflops, skip=args.skip,
                   memory=not args.no_memory, flop_counter=args.flop_counter, case_timeout=args.case_timeout)

    cases = [(s, z) for s in chosen for z in args.sizes] + [(s, z) for s in growth_specs for z in args.growth_sizes]
    progress = Progress(len({(s.name, size_label(z)) for s, z in cases}))
    meta = dict(date=datetime.date.today().isoformat(), machine=machine_line(opts, args.threads), load_start=load(),
                batch=args.batch, command='python tools/analysis/benchmark.py ' + shlex.join(
                    list(sys.argv[1:] if argv is None else argv)))
    print(f'{len(chosen)} models x {len(args.sizes)} sizes, {len(growth_specs)} growth models; {meta["machine"]}',
          flush=True)
    start = time.perf_counter()
    measured = measure(cases, opts, progress)
    results = [measured[(s.name, size_label(z))] for s in chosen for z in args.sizes]
    growth = [measured[(s.name, size_label(z))] for s in growth_specs for z in args.growth_sizes]
    meta.update(load_end=load(), minutes=(time.perf_counter() - start) / 60)
    paths = write_reports(results, growth, args.growth_sizes, specs, args.out_dir, meta)
    print()
    print(open(paths['markdown']).read())
    print('\nwritten: ' + ', '.join(paths.values()))
    return paths


if __name__ == '__main__':
    main()
