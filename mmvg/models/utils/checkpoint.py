"""Loading pre-trained weights into a backbone: unwrap, convert, load, and report every key that did not fit."""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

import mmvg.utils.checkpoint_io  # noqa: F401  (torch>=2.6-safe local loader)

StateDict = Dict[str, torch.Tensor]


def unwrap_state_dict(checkpoint) -> StateDict:
    """The tensor dict inside a checkpoint: under 'state_dict', 'model' or 'module', or the dict itself.

    A leading ``module.`` (DataParallel) is removed from every key.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    tensors = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f'the checkpoint holds no tensors (top-level keys: {sorted(checkpoint)[:10]})')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in tensors.items()}


def load_pretrained(module: nn.Module,
                    checkpoint: str,
                    prefix: Optional[str] = None,
                    converter: Optional[Callable[[StateDict], StateDict]] = None,
                    map_location: str = 'cpu') -> None:
    """Load ``checkpoint`` into a backbone, converting foreign layouts and logging what did not match.

    Args:
        module (nn.Module): The backbone.
        checkpoint (str): Path or URL of the checkpoint.
        prefix (str, optional): Keep only keys with this prefix (e.g. ``'backbone.'``), stripped.
            Defaults to None.
        converter (callable, optional): ``state_dict -> state_dict`` to mmvg's layout, full-model keys
            (``backbone.*``, ``head.*``, ...) allowed. Defaults to None.
        map_location (str): Defaults to 'cpu'.

    Raises:
        ValueError: if the file holds no state dict, a tensor has the wrong shape, or the checkpoint holds less
            than half of the backbone's weights (another model family).
    """
    name = type(module).__name__
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    try:
        state_dict = unwrap_state_dict(loaded)
    except ValueError as e:
        raise ValueError(f'{name}: {checkpoint} is not a model checkpoint: {e}') from e
    if prefix:
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not state_dict:
            raise ValueError(f'no key of checkpoint {checkpoint} starts with prefix {prefix!r}')
    if converter is not None:
        state_dict = converter(state_dict)
    if any(k.startswith('backbone.') for k in state_dict):
        ignored = sorted(k for k in state_dict if not k.startswith('backbone.'))
        state_dict = {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}
        if ignored:
            print_log(f'{name}: {len(ignored)} non-backbone keys of {checkpoint} are not used by the backbone '
                      f'(e.g. {ignored[:3]})', logger='current')

    own = module.state_dict()
    wrong_shape = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                   for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
    if wrong_shape:
        raise ValueError(f'{name}: {len(wrong_shape)} tensors of {checkpoint} have the wrong shape for this '
                         f'arch, e.g. ' + '; '.join(wrong_shape[:5]))
    matched = [k for k in state_dict if k in own]
    # a checkpoint of another family can share a few names and shapes (e.g. 'stages.0.blocks.0.norm1.weight'):
    # loading those alone would leave the backbone random, so at least half of its weights must come from it
    covered = sum(own[k].numel() for k in matched) / max(1, sum(v.numel() for v in own.values()))
    if covered < 0.5:
        absent = [k for k in own if k not in state_dict]
        raise ValueError(f'{name}: {checkpoint} holds only {covered:.0%} of this backbone\'s weights ({len(matched)} '
                         f'of {len(own)} tensors; missing e.g. {absent[:3]}; checkpoint keys such as '
                         f'{sorted(state_dict)[:5]}). Is it a checkpoint of another model family?')
    missing, unexpected = module.load_state_dict(state_dict, strict=False)
    print_log(f'{name}: loaded {len(matched)}/{len(own)} tensors from {checkpoint}', logger='current')
    if missing:
        print_log(f'{name}: missing keys (left at their initial values): {missing}', logger='current',
                  level=30)
    if unexpected:
        print_log(f'{name}: unexpected keys (not used): {unexpected}', logger='current', level=30)


def convert_checkpoint_file(src: str,
                            dst: str,
                            converter: Callable[[StateDict], StateDict],
                            family: str,
                            check: Optional[Callable[[StateDict], str]] = None) -> StateDict:
    """Convert the checkpoint file ``src`` to mmvg's layout and save it as ``{'state_dict', 'meta'}`` at ``dst``.

    Args:
        src (str): Path or URL of a checkpoint in a foreign layout (bare, or under 'state_dict' / 'model').
        dst (str): Output path; its folder is created.
        converter (callable): ``state_dict -> state_dict`` in mmvg's layout (e.g. :func:`convert_coc`).
        family (str): The model family, for messages (e.g. ``'Context Cluster'``).
        check (callable, optional): Called with the converted state dict; raises ``ValueError`` if it does not fit
            the family and returns a line of facts for the summary (e.g. the arch read from the tensors).
            Defaults to None.

    Returns:
        dict: The converted state dict.

    Raises:
        ValueError: if ``src`` is not in a layout the converter knows (conversion changed no key).
    """
    state_dict = unwrap_state_dict(CheckpointLoader.load_checkpoint(src, map_location='cpu'))
    converted = converter(state_dict)
    if set(converted) == set(state_dict):
        raise ValueError(f'{src} is not in the official {family} layout (keys such as {sorted(state_dict)[:4]}); '
                         'nothing to convert')
    facts = check(converted) if check is not None else ''
    if osp.dirname(osp.abspath(dst)):
        os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': dict(converted_from=src)}, dst)
    num_backbone = sum(k.startswith('backbone.') for k in converted)
    print(f'{src} -> {dst}: {family}{" " + facts if facts else ""}, {num_backbone} backbone tensors, '
          f'{len(converted) - num_backbone} others')
    return converted


def converter_main(doc: str,
                   converter: Callable[[StateDict], StateDict],
                   family: str,
                   check: Optional[Callable[[StateDict], str]] = None) -> None:
    """The command line of ``tools/model_converters/*_to_mmvg.py``: ``SRC DST``; exit 1 with the reason on error."""
    parser = argparse.ArgumentParser(description=doc.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    parser.add_argument('src', help=f'{family} checkpoint in a foreign layout (path or URL)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    args = parser.parse_args()
    try:
        convert_checkpoint_file(args.src, args.dst, converter, family, check)
    except ValueError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
