"""Models and images for the visualisation tools: a model from any mmdet / mmseg / mmpretrain config (or a bare
mmvg backbone), its backbone, and an image prepared by the model's own data preprocessor."""
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger, print_log
from mmengine.model import ImgDataPreprocessor
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint

#: Normalisation of a bare backbone (ImageNet statistics on 0-255 RGB images).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass
class VisModel:
    """A model ready for the visualisation tools.

    Args:
        model (nn.Module): The whole model (classifier, detector, segmentor) or, for a bare backbone, the backbone.
        backbone (nn.Module): The mmvg backbone inside it.
        data_preprocessor (nn.Module): Turns ``dict(inputs=[uint8 BGR CHW tensor])`` into normalised inputs.
        backbone_prefix (str): Module name of the backbone inside ``model`` with a trailing dot ('' if bare).
        classes (list[str], optional): Class names (from the checkpoint's ``dataset_meta`` or the config).
    """
    model: nn.Module
    backbone: nn.Module
    data_preprocessor: nn.Module
    backbone_prefix: str = ''
    classes: Optional[List[str]] = field(default=None)

    @property
    def is_classifier(self) -> bool:
        """Whether ``model(inputs, mode='tensor')`` returns class scores (an mmpretrain classifier with a head)."""
        try:
            from mmpretrain.models.classifiers import BaseClassifier
        except ImportError:
            return False
        return isinstance(self.model, BaseClassifier) and getattr(self.model, 'with_head', False)

    def stage_strides(self) -> List[int]:
        """Stride of every stage of the backbone (its ``stem_stride`` doubled per stage)."""
        stem = getattr(self.backbone, 'stem_stride', None)
        if stem is None:
            raise ValueError(f'{type(self.backbone).__name__} has no stem_stride: not an mmvg backbone')
        return [stem * 2**i for i in range(len(self.backbone.stages))]


@contextmanager
def _quiet_init():
    # mmengine's init_weights logs every parameter when no log file is open
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _class_names(cfg: Config, checkpoint: Optional[dict]) -> Optional[List[str]]:
    meta = (checkpoint or {}).get('meta', {}) or {}
    classes = (meta.get('dataset_meta') or {}).get('classes')
    if classes is None:
        for key in ('val_dataloader', 'test_dataloader', 'train_dataloader'):
            dataset = (cfg.get(key) or {}).get('dataset') or {}
            classes = (dataset.get('metainfo') or {}).get('classes')
            if classes is not None:
                break
    return list(classes) if classes is not None else None


def load_model(config: Union[str, Config], checkpoint: Optional[str] = None, device: str = 'cpu',
               cfg_options: Optional[Dict[str, Any]] = None) -> VisModel:
    """Build the model of an mmdet, mmseg or mmpretrain config through its registry and load a checkpoint.

    Args:
        config (str | Config): Config file or object; its ``default_scope`` picks the registry.
        checkpoint (str, optional): Checkpoint to load, strictly (a tool should not draw a half-random model).
            None keeps the model's own initialisation (``init_weights``: random, or the pre-trained weights its
            ``init_cfg`` names). Defaults to None.
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config. Defaults to None.

    Returns:
        VisModel: The model in eval mode.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model.copy()
    if 'data_preprocessor' not in model_cfg and cfg.get('data_preprocessor') is not None:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor  # as mmengine's Runner does
    if checkpoint is not None and (model_cfg.get('backbone') or {}).get('init_cfg') is not None:
        model_cfg['backbone'] = {**model_cfg['backbone'], 'init_cfg': None}  # the checkpoint replaces it
    model = MODELS.build(model_cfg)
    ckpt = None
    if checkpoint is None:
        try:
            with _quiet_init():
                model.init_weights()
        except FileNotFoundError as e:
            raise FileNotFoundError(f'{e}: pass the checkpoint to load, or --cfg-options '
                                    'model.backbone.init_cfg=None for random weights') from e
    else:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    if not hasattr(model, 'backbone'):
        raise ValueError(f'{type(model).__name__} has no backbone to visualise')
    model = model.to(device).eval()
    return VisModel(model, model.backbone, model.data_preprocessor, 'backbone.', _class_names(cfg, ckpt))


def build_backbone(backbone_cfg: dict, device: str = 'cpu', seed: Optional[int] = 0) -> VisModel:
    """A bare mmvg backbone with random weights, normalising inputs with ImageNet statistics.

    Args:
        backbone_cfg (dict): E.g. ``dict(type='mmvg.PyramidViG', arch='tiny')``.
        device (str): Defaults to ``'cpu'``.
        seed (int, optional): Seed of the random weights. Defaults to 0.
    """
    import mmvg.models  # noqa: F401  (registers the backbones)
    if seed is not None:
        torch.manual_seed(seed)
    backbone = MODELS.build(dict(backbone_cfg))
    with _quiet_init():
        backbone.init_weights()
    preprocessor = ImgDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, bgr_to_rgb=True)
    print_log(f'{type(backbone).__name__} with random weights (seed {seed})', logger='current')
    return VisModel(backbone.to(device).eval(), backbone, preprocessor.to(device))


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule ``name`` of ``model``, where list indices may be negative: ``'backbone.stages.-1'``.

    Args:
        model (nn.Module): The root module.
        name (str): Dotted module name; '' is ``model`` itself.
    """
    module = model
    for part in filter(None, name.split('.')):
        if re.fullmatch(r'-?\d+', part) and isinstance(module, (nn.ModuleList, nn.Sequential)):
            module = module[int(part)]
        elif hasattr(module, part) and isinstance(getattr(module, part), nn.Module):
            module = getattr(module, part)
        else:
            children = ', '.join(n for n, _ in module.named_children())
            raise ValueError(f'{type(module).__name__} has no submodule {part!r} (in {name!r}); '
                             f'its children: {children}')
    return module


def parse_stage_block(name: str) -> Tuple[int, int]:
    """``(stage, block)`` of a module named ``'...stages.S.blocks.B...'``."""
    match = re.search(r'stages\.(\d+)\.blocks\.(\d+)(\.|$)', name)
    if match is None:
        raise ValueError(f'{name!r} is not inside stages.<i>.blocks.<j>')
    return int(match.group(1)), int(match.group(2))


def records_per_stage(records: Dict[str, list], block: int = -1,
                      what: str = 'record') -> Dict[int, Tuple[int, int, object]]:
    """The latest record of block ``block`` of every stage, from :func:`~mmvg.models.layers.graph.record_graphs`
    or :func:`~mmvg.models.layers.cluster.record_clusters` output.

    Args:
        records (dict): Module name (``'...stages.S.blocks.B...'``) to its records, one per forward.
        block (int): Block index within each stage; negative counts from the end. Defaults to -1 (the last).
        what (str): What was recorded, for the error message. Defaults to 'record'.

    Returns:
        dict: ``{stage: (block index, blocks in the stage, record)}``, by stage.
    """
    by_stage = {}
    for name, recs in records.items():
        if recs:
            stage, b = parse_stage_block(name)
            by_stage.setdefault(stage, {})[b] = recs[-1]  # the latest forward
    if not by_stage:
        raise ValueError(f'no {what} was recorded: does the model have these layers?')
    out = {}
    for stage, blocks in sorted(by_stage.items()):
        order = sorted(blocks)
        if not -len(order) <= block < len(order):
            raise ValueError(f'stage {stage} has {len(order)} blocks, --block {block} is out of range')
        out[stage] = (order[block], len(order), blocks[order[block]])
    return out


def load_image(path: str, img_size: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read an image as uint8 BGR ``(H, W, 3)``, optionally resized.

    Args:
        path (str): Image file.
        img_size (Sequence[int], optional): One value: the shorter edge (aspect kept); two: ``(width, height)``.
            None keeps the size. Defaults to None.
    """
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise FileNotFoundError(f'cannot read the image {path}')
    if img_size:
        if len(img_size) == 1:
            image = mmcv.imrescale(image, (int(img_size[0]), 10**6), backend='cv2')  # shorter edge
        elif len(img_size) == 2:
            image = mmcv.imresize(image, (int(img_size[0]), int(img_size[1])), backend='cv2')
        else:
            raise ValueError(f'img_size takes one value (shorter edge) or two (width height), got {img_size}')
    return image


def preprocess(vis_model: VisModel, image: np.ndarray) -> torch.Tensor:
    """Normalise a uint8 BGR ``(H, W, 3)`` image with the model's data preprocessor (mean, std, channel order,
    padding); returns ``(1, 3, H', W')``, ``H' >= H`` and ``W' >= W`` (detectors pad at the bottom and right).

    Args:
        vis_model (VisModel): The model whose preprocessor to use.
        image (np.ndarray): The image.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    with torch.no_grad():
        data = vis_model.data_preprocessor(dict(inputs=[tensor], data_samples=None), False)
    return data['inputs']


def pixel_to_cell(x: float, y: float, stride: int, grid: Tuple[int, int]) -> Tuple[int, int]:
    """``(row, col)`` of the grid cell of stride ``stride`` that holds the image pixel ``(x, y)``."""
    return (min(max(int(y // stride), 0), grid[0] - 1), min(max(int(x // stride), 0), grid[1] - 1))


__all__ = ['VisModel', 'load_model', 'build_backbone', 'get_module', 'parse_stage_block', 'load_image',
           'preprocess', 'pixel_to_cell', 'IMAGENET_MEAN', 'IMAGENET_STD']
