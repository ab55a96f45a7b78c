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


# -- Vision GNN (PyramidViG, ViG) ---------------------------------------------------------------------------------
_VIG_BLOCK = {
    '0.fc1.0.': 'grapher.fc1.conv.', '0.fc1.1.': 'grapher.fc1.norm.',
    '0.graph_conv.gconv.nn.0.': 'grapher.graph_conv.proj.conv.',
    '0.graph_conv.gconv.nn.1.': 'grapher.graph_conv.proj.norm.',
    '0.fc2.0.': 'grapher.fc2.conv.', '0.fc2.1.': 'grapher.fc2.norm.',
    '1.fc1.0.': 'ffn.fc1.conv.', '1.fc1.1.': 'ffn.fc1.norm.',
    '1.fc2.0.': 'ffn.fc2.conv.', '1.fc2.1.': 'ffn.fc2.norm.',
}
_VIG_HEAD = {'prediction.0.': 'head.fc1.', 'prediction.1.': 'head.bn.', 'prediction.4.': 'head.fc2.'}
_VIG_OFFICIAL = re.compile(r'stem\.convs\.\d+\.|backbone\.\d+\.')
_VIG_MMPRETRAIN = re.compile(r'(backbone\.)?(stem\.\d+\.[a-z_]+$|stages\.\d+\.\d+\.|blocks\.\d+\.[01]\.)')


def _vig_conv_norm(index: int) -> str:
    # nn.Sequential(conv, norm[, act]) indices 0, 1 -> ConvNorm's conv, norm
    return 'conv.' if index == 0 else 'norm.'


def _vig_block(prefix: str, rest: str) -> str:
    """A Grapher (``0.*``) or FFN (``1.*``) key of an official / mmpretrain block -> mmvg; '' for ``relative_pos``."""
    if rest == '0.relative_pos':
        return ''
    old = next((old for old in _VIG_BLOCK if rest.startswith(old)), None)
    return prefix + _VIG_BLOCK[old] + rest[len(old):] if old else prefix + rest


def convert_vig(state_dict: StateDict) -> StateDict:
    """Official or mmpretrain Vision GNN weights -> :class:`mmvg.models.PyramidViG` / :class:`mmvg.models.ViG`.

    Layouts, detected from the keys:

    - official (``vig_pytorch``): ``stem.convs.*``, ``pos_embed``, ``backbone.{j}.{0,1}.*`` with PViG's
      downsampling layers ``backbone.{j}.conv.*`` among the blocks, ``prediction.{0,1,4}.*``;
    - mmpretrain (``tools/model_converters/vig_to_mmpretrain.py``): ``backbone.stem.*``, ``backbone.pos_embed``,
      ``backbone.stages.{s}.{j}.*`` (PViG; ``j = 0`` downsamples in stages ``s > 0``) or ``backbone.blocks.{i}.*``
      (ViG), ``head.{fc1,bn,fc2}.*``;
    - mmvg: returned unchanged.

    The classifier maps to mmpretrain's ``VigClsHead`` (``head.fc1``, ``head.bn``, ``head.fc2``; 1x1-conv
    weights become Linear weights). The official ``relative_pos`` tables are dropped: they are frozen copies of a
    function of the grid, recomputed at run time for any input size (and equal to them at 224, where the
    checkpoints' layout is reproduced; see :mod:`mmvg.models.layers.graph`).
    """
    official = any(_VIG_OFFICIAL.match(k) for k in state_dict)
    if not official and not any(_VIG_MMPRETRAIN.match(k) for k in state_dict):
        return dict(state_dict)
    downsamples = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r'backbone\.(\d+)\.conv\.', k))})

    def rename(key: str) -> str:
        if official:
            body = key
            if m := re.match(r'backbone\.(\d+)\.conv\.(\d)\.(.*)', key):  # PViG downsampling among the blocks
                stage = downsamples.index(int(m.group(1))) + 1
                return f'backbone.stages.{stage}.downsample.{_vig_conv_norm(int(m.group(2)))}{m.group(3)}'
            if m := re.match(r'backbone\.(\d+)\.(.*)', key):
                j = int(m.group(1))
                before = [d for d in downsamples if d < j]
                block = j - before[-1] - 1 if before else j
                return _vig_block(f'backbone.stages.{len(before)}.blocks.{block}.', m.group(2))
            if m := re.match(r'stem\.convs\.(\d+)\.(.*)', key):
                return f'backbone.stem.{int(m.group(1)) // 3}.{_vig_conv_norm(int(m.group(1)) % 3)}{m.group(2)}'
            old = next((old for old in _VIG_HEAD if key.startswith(old)), None)
            if old:
                return _VIG_HEAD[old] + key[len(old):]
        else:
            body = key[len('backbone.'):] if key.startswith('backbone.') else key
            if m := re.match(r'stem\.(\d+)\.(.*)', body):
                return f'backbone.stem.{int(m.group(1)) // 3}.{_vig_conv_norm(int(m.group(1)) % 3)}{m.group(2)}'
            if (m := re.match(r'stages\.(\d+)\.0\.([01])\.(.*)', body)) and int(m.group(1)) > 0:
                return f'backbone.stages.{m.group(1)}.downsample.{_vig_conv_norm(int(m.group(2)))}{m.group(3)}'
            if m := re.match(r'stages\.(\d+)\.(\d+)\.(.*)', body):
                stage, j = int(m.group(1)), int(m.group(2))
                return _vig_block(f'backbone.stages.{stage}.blocks.{j - 1 if stage > 0 else j}.', m.group(3))
            if m := re.match(r'blocks\.(\d+)\.(.*)', body):
                return _vig_block(f'backbone.stages.0.blocks.{m.group(1)}.', m.group(2))
        return 'backbone.stem.pos_embed' if body == 'pos_embed' else key

    out, dropped = {}, 0
    for key, value in state_dict.items():
        new = rename(key)
        if not new:
            dropped += 1
            continue
        if new.startswith(('head.fc1.', 'head.fc2.')) and new.endswith('weight') and value.dim() == 4:
            value = value.flatten(1)  # 1x1 conv -> Linear
        out[new] = value
    if dropped:
        from mmengine.logging import print_log
        print_log(f'convert_vig: dropped {dropped} relative_pos tables; the relative-position term is computed from '
                  f'the grid at run time', logger='current')
    return out


__all__ += ['convert_vig']


# -- ConvMixer (ConvMixer, PyramidConvMixer) ----------------------------------------------------------------------
_CONVMIXER_BLOCK = {'0.fn.0.': 'dwconv.', '0.fn.2.': 'norm1.', '1.': 'pwconv.', '3.': 'norm2.'}
_CONVMIXER_LAYOUTS = {  # layout -> the depthwise-conv weight of each block; group 1 is the block index
    'official': re.compile(r'(\d+)\.0\.fn\.0\.weight$'),
    'timm': re.compile(r'blocks\.(\d+)\.0\.fn\.0\.weight$'),
    'mmpretrain': re.compile(r'(?:backbone\.)?stages\.(\d+)\.0\.fn\.0\.weight$'),
}


def convmixer_stage_depths(depth: int, num_stages: int = 4) -> list:
    """How the isotropic :class:`mmvg.models.ConvMixer` splits ``depth`` blocks into stages: as evenly as
    possible, earlier stages taking the remainder (20 -> [5, 5, 5, 5], 10 -> [3, 3, 2, 2])."""
    return [depth // num_stages + (i < depth % num_stages) for i in range(num_stages)]


def convert_convmixer(state_dict: StateDict) -> StateDict:
    """The authors', timm's or mmpretrain's ConvMixer weights -> :class:`mmvg.models.ConvMixer`.

    Layouts, detected from the keys:

    - official (``convmixer.py``, one ``nn.Sequential``; the released ``.pth.tar`` files): ``0.*`` (patch conv),
      ``2.*`` (BN), ``{3 + i}.{0.fn.0, 0.fn.2, 1, 3}.*`` (block ``i``), ``{depth + 5}.*`` (classifier);
    - timm: ``stem.{0,2}.*``, ``blocks.{i}.{0.fn.0, 0.fn.2, 1, 3}.*``, ``head.*``;
    - mmpretrain: ``backbone.stem.{0,2}.*``, ``backbone.stages.{i}.{...}.*``, ``head.fc.*``;
    - mmvg (both ConvMixers): returned unchanged.

    Block ``i`` goes to ``stages.{s}.blocks.{j}`` by :func:`convmixer_stage_depths`; the classifier becomes
    mmpretrain's ``LinearClsHead`` (``head.fc.*``).
    """
    layout, blocks = None, set()
    for name, pattern in _CONVMIXER_LAYOUTS.items():
        blocks = {int(m.group(1)) for k in state_dict if (m := pattern.match(k))}
        if blocks:
            layout = name
            break
    if layout is None:
        return dict(state_dict)
    first = 3 if layout == 'official' else 0
    depth = len(blocks)
    if blocks != set(range(first, first + depth)):
        raise ValueError(f'convert_convmixer: the {layout} checkpoint has non-contiguous blocks {sorted(blocks)}.')
    where, start = {}, 0  # block index -> (stage, index in stage)
    for stage, d in enumerate(convmixer_stage_depths(depth)):
        where.update({start + j: (stage, j) for j in range(d)})
        start += d

    def block(i: int, rest: str, key: str) -> str:
        for old, new in _CONVMIXER_BLOCK.items():
            if rest.startswith(old):
                stage, j = where[i]
                return f'backbone.stages.{stage}.blocks.{j}.{new}{rest[len(old):]}'
        return key  # not a ConvMixer key: left for the loader to report

    out = {}
    for key, value in state_dict.items():
        new = key
        if layout == 'official':
            m = re.match(r'(\d+)\.(.*)', key)
            if m and int(m.group(1)) in (0, 2):
                new = f'backbone.stem.{key}'
            elif m and first <= int(m.group(1)) < first + depth:
                new = block(int(m.group(1)) - first, m.group(2), key)
            elif m and int(m.group(1)) == depth + 5:  # after AdaptiveAvgPool2d and Flatten
                new = f'head.fc.{m.group(2)}'
        else:
            body = key[len('backbone.'):] if key.startswith('backbone.') else key
            block_prefix = 'blocks.' if layout == 'timm' else 'stages.'
            if body.startswith('stem.'):
                new = f'backbone.{body}'
            elif body.startswith(block_prefix) and (m := re.match(r'(\d+)\.(.*)', body[len(block_prefix):])):
                new = block(int(m.group(1)), m.group(2), key)
            elif layout == 'timm' and body.startswith('head.'):
                new = f'head.fc.{body[len("head."):]}'
        out[new] = value
    return out


__all__ += ['convert_convmixer', 'convmixer_stage_depths']


# -- Vision Permutator ---------------------------------------------------------------------------------------------
_VIP_OFFICIAL = re.compile(r'network\.\d+\.\d+\.attn\.mlp_[chw]\.weight$')


def convert_vip(state_dict: StateDict) -> StateDict:
    """Official Vision Permutator weights (``models/vip.py``) -> :class:`mmvg.models.VisionPermutator`.

    The official ``network`` list interleaves block stages (``network.{k}.{j}.*``) and downsamplings
    (``network.{k}.proj.*``, before the next stage). Stage ``s`` of the ``k``-th entry is the number of block
    entries before it; a downsampling becomes ``stages.{s}.downsample``. ``patch_embed.proj`` -> ``stem``,
    ``attn`` (the permute-MLP) -> ``mixer``, the final ``norm`` -> the last stage's output norm, ``head`` ->
    mmpretrain's ``head.fc``. Anything else (mmvg layout, other families) is returned unchanged.
    """
    if not any(_VIP_OFFICIAL.match(k) for k in state_dict):
        return dict(state_dict)
    entries = sorted({int(m.group(1)) for k in state_dict if (m := re.match(r'network\.(\d+)\.', k))})
    downsamples = {int(m.group(1)) for k in state_dict if (m := re.match(r'network\.(\d+)\.proj\.', k))}
    stage_of, num_stages = {}, 0
    for k in entries:
        stage_of[k] = num_stages
        num_stages += k not in downsamples
    out = {}
    for key, value in state_dict.items():
        if key.startswith('patch_embed.proj.'):
            out['backbone.stem.' + key[len('patch_embed.proj.'):]] = value
        elif m := re.match(r'network\.(\d+)\.proj\.(.*)', key):
            out[f'backbone.stages.{stage_of[int(m.group(1))]}.downsample.{m.group(2)}'] = value
        elif m := re.match(r'network\.(\d+)\.(\d+)\.(.*)', key):
            rest = m.group(3)
            rest = 'mixer.' + rest[len('attn.'):] if rest.startswith('attn.') else rest
            out[f'backbone.stages.{stage_of[int(m.group(1))]}.blocks.{m.group(2)}.{rest}'] = value
        elif key.startswith('norm.'):
            out[f'backbone.norm{num_stages - 1}.' + key[len('norm.'):]] = value
        elif key.startswith('head.'):
            out['head.fc.' + key[len('head.'):]] = value
        else:
            out[key] = value
    return out


__all__ += ['convert_vip']
