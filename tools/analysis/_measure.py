"""Measurement helpers shared by the scripts under ``tools/analysis/``.

How this project measures on a CPU shared with other jobs:

* **Memory** is the peak memory of a call above the memory in use before it. On CPU that is the peak resident set
  size (RSS) of the process, so each case runs in a fresh process (:func:`run_json_subprocess`) whose environment
  lowers glibc's mmap threshold (:func:`fresh_process_env`), so that freed tensors leave the RSS instead of being
  kept for reuse. The peak is reset just before the call where Linux allows it (``/proc/self/clear_refs``), so that
  imports and model construction do not count. On CUDA it is ``torch.cuda.max_memory_allocated``.
* **Time** on CPU is the calling thread's CPU time with one intra-op thread (:func:`clock`): wall time on a loaded
  2-core machine mostly measures the neighbours. On CUDA it is wall time between synchronisations.
"""
import json
import os
import re
import resource
import subprocess
import time
from typing import Callable, Dict, Optional, Sequence

import torch

MiB, GiB = 2**20, 2**30
MMAP_THRESHOLD = '131072'  # bytes; glibc's default grows to 32 MiB, which keeps freed buffers in the RSS


def rss() -> int:
    """Resident set size of this process now, in bytes."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False where the kernel does not allow it."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes (since the last :func:`reset_peak_rss` where it worked)."""
    try:
        with open('/proc/self/status') as f:
            return int(re.search(r'^VmHWM:\s+(\d+) kB', f.read(), re.M).group(1)) * 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory(fn: Callable[[], object], device: str) -> float:
    """Peak memory of ``fn()`` above the memory in use before it, in bytes.

    On CPU this is only meaningful in a process that does nothing else (see :func:`run_json_subprocess`).
    """
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    reset_peak_rss()
    base = rss()
    fn()
    return peak_rss() - base


def clock(device: str) -> Callable[[], float]:
    """The clock to time ``device`` work with: thread CPU time on CPU (one intra-op thread), wall time on CUDA."""
    if str(device).startswith('cuda') or torch.get_num_threads() > 1:
        return time.perf_counter
    return time.thread_time


def timed(fn: Callable[[], object], device: str) -> float:
    """Seconds that ``fn()`` takes on ``device``, by :func:`clock`."""
    now = clock(device)
    cuda = str(device).startswith('cuda')
    if cuda:
        torch.cuda.synchronize()
    start = now()
    fn()
    if cuda:
        torch.cuda.synchronize()
    return now() - start


def fresh_process_env(threads: Optional[int] = None) -> Dict[str, str]:
    """Environment of a memory-measuring subprocess: large frees go back to the OS, optionally N OpenMP threads."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=MMAP_THRESHOLD)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    return env


class SubprocessFailed(RuntimeError):
    """A measuring subprocess failed; the message says why in one line."""


def run_json_subprocess(cmd: Sequence[str], threads: Optional[int] = None, timeout: Optional[float] = None) -> dict:
    """Run ``cmd`` in a fresh process (:func:`fresh_process_env`) and parse the JSON on its last stdout line.

    Raises:
        SubprocessFailed: with the last line of its stderr, or a note that it was killed or timed out.
    """
    try:
        proc = subprocess.run(list(cmd), env=fresh_process_env(threads), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SubprocessFailed(f'timed out after {timeout:.0f} s') from None
    if proc.returncode < 0:
        why = ' (out of memory?)' if proc.returncode == -9 else ''
        raise SubprocessFailed(f'killed by signal {-proc.returncode}{why}')
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise SubprocessFailed(lines[-1].strip() if lines else f'exit status {proc.returncode}')
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise SubprocessFailed('no output')
    return json.loads(lines[-1])
