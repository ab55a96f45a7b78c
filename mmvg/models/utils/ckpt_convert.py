"""Pure functions converting official state dicts to mmvg's layout. Each detects the source layout from its keys,
returns mmvg keys (``backbone.*`` for the backbone, ``head.fc.*`` for a classifier head), leaves keys it does not
recognise (a detector's neck and heads) unchanged, and returns mmvg-layout input unchanged."""
import re
from typing import Dict

import torch

StateDict = Dict[str, torch.Tensor]

_COC_MIXER_OLD = {'token_mixer.fc1.': 'token_mixer.f.', 'token_mixer.fc2.': 'token_mixer.proj.',
                  'token_mixer.fc_v.': 'token_mixer.v.'}


def _is_official_coc(keys) -> bool:
    return any(re.match(r'(backbone\.)?(patch_embed\.proj|network\.\d+)\.', k) for k in keys)


def convert_coc(state_dict: StateDict) -> StateDict:
    """Official Context Cluster weights -> :class:`mmvg.models.ContextCluster`.

    Handles the current layout (Linear MLP, ``token_mixer.f/v/proj``) and the old one of the paper-submission and
    COCO checkpoints (1x1-conv MLP, ``token_mixer.fc1/fc2/fc_v``, ``fea_pos``), as classification checkpoints
    (``head.*`` -> ``head.fc.*``, final ``norm.*`` -> the last stage's output norm) or as mmdet/mmseg checkpoints
    (keys under ``backbone.``; ``norm{0,2,4,6}`` -> ``norm{0,1,2,3}``). ``fea_pos`` is dropped: positions are
    computed from each input.
    """
    if not _is_official_coc(state_dict):
        return dict(state_dict)
    dense = any(k.startswith('backbone.') for k in state_dict)
    num_stages = 1 + max(int(m.group(1)) // 2 for k in state_dict
                         if (m := re.match(r'(?:backbone\.)?network\.(\d+)\.', k)))
    out = {}
    for key, value in state_dict.items():
        prefix = 'backbone.' if key.startswith('backbone.') else ''
        body = key[len(prefix):]
        if dense and not prefix:  # neck / heads of a detector or segmentor
            out[key] = value
            continue
        if body == 'fea_pos' or body.endswith('.fea_pos'):
            continue
        if body.startswith('patch_embed.proj.'):
            out['backbone.stem.' + body[len('patch_embed.proj.'):]] = value
        elif m := re.match(r'network\.(\d+)\.(\d+)\.(.*)', body):
            net_idx, block, rest = int(m.group(1)), m.group(2), m.group(3)
            for old, new in _COC_MIXER_OLD.items():
                if rest.startswith(old):
                    rest = new + rest[len(old):]
            if rest in ('layer_scale_1', 'layer_scale_2'):
                rest = f'ls{rest[-1]}.gamma'
            if re.match(r'mlp\.fc[12]\.weight', rest) and value.dim() == 4:  # old 1x1-conv MLP
                value = value.flatten(1)
            out[f'backbone.stages.{net_idx // 2}.blocks.{block}.{rest}'] = value
        elif m := re.match(r'network\.(\d+)\.proj\.(.*)', body):
            out[f'backbone.stages.{int(m.group(1)) // 2 + 1}.downsample.{m.group(2)}'] = value
        elif m := re.match(r'norm(\d+)\.(.*)', body):
            out[f'backbone.norm{int(m.group(1)) // 2}.{m.group(2)}'] = value
        elif body.startswith('norm.'):
            out[f'backbone.norm{num_stages - 1}.' + body[len('norm.'):]] = value
        elif body.startswith('head.'):
            out['head.fc.' + body[len('head.'):]] = value
        else:
            out[key] = value
    return out


__all__ = ['convert_coc']
