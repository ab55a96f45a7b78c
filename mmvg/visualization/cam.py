"""Grad-CAM for mmvg models through pytorch-grad-cam (PyPI ``grad-cam``, ``pip install mmvg[vis]``).

For an mmpretrain classifier the target is a class score. Models without a classification head (detectors,
segmentors, bare backbones) have no class score; for them the target is the norm of the globally pooled last
backbone output, so the map shows where the features respond most strongly ("feature energy").
"""
import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

from .loading import VisModel, get_module

#: CAM methods of pytorch-grad-cam that the tools offer, by command-line name.
CAM_METHODS = {'gradcam': 'GradCAM', 'gradcam++': 'GradCAMPlusPlus', 'xgradcam': 'XGradCAM',
               'hirescam': 'HiResCAM', 'layercam': 'LayerCAM'}


class ScoreModel(nn.Module):
    """``inputs -> (B, num_scores)``: class scores of a classifier, else the feature energy ``(B, 1)``.

    Args:
        vis_model (VisModel): The model.
    """

    def __init__(self, vis_model: VisModel) -> None:
        super().__init__()
        self.model = vis_model.model
        self.backbone = vis_model.backbone if vis_model.backbone is not vis_model.model else None
        self.is_classifier = vis_model.is_classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.is_classifier:
            return self.model(inputs, mode='tensor')  # B, num_classes
        backbone = self.backbone if self.backbone is not None else self.model
        feats = backbone(inputs)[-1]  # B, C, h, w
        return feats.mean((2, 3)).norm(dim=1, keepdim=True)  # B, 1


@dataclass
class CamResult:
    """A class activation map and what it explains.

    Args:
        cam (np.ndarray): ``(H, W)`` float32 in [0, 1], at the model input's size.
        target (int): The explained score's index (a class, or 0 for the feature energy).
        score (float): The raw score (logit, or feature energy).
        prob (float, optional): The softmax probability of ``target`` for classifiers.
        layer (str): Module name of the target layer.
    """
    cam: np.ndarray
    target: int
    score: float
    prob: Optional[float]
    layer: str


def default_target_layer(vis_model: VisModel) -> str:
    """The backbone's last stage, e.g. ``'backbone.stages.3'``."""
    return f'{vis_model.backbone_prefix}stages.{len(vis_model.backbone.stages) - 1}'


def grad_cam(vis_model: VisModel, inputs: torch.Tensor, target_layer: Optional[str] = None,
             target: Optional[int] = None, method: str = 'gradcam') -> CamResult:
    """Class activation map of one preprocessed image.

    Args:
        vis_model (VisModel): The model.
        inputs (Tensor): ``(1, 3, H, W)`` from :func:`mmvg.visualization.preprocess`.
        target_layer (str, optional): Module name in ``vis_model.model``; list indices may be negative
            (``'backbone.stages.-2'``). Defaults to None: the last stage of the backbone.
        target (int, optional): Class index; None for the top-scoring class. Defaults to None.
        method (str): One of :data:`CAM_METHODS`. Defaults to ``'gradcam'``.

    Returns:
        CamResult: The map, scaled to [0, 1] (all zeros if no location has a positive weighted activation).
    """
    try:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as e:
        raise ImportError('Grad-CAM needs pytorch-grad-cam: pip install grad-cam (or mmvg[vis])') from e
    if method not in CAM_METHODS:
        raise ValueError(f'unknown CAM method {method!r}; choose one of {sorted(CAM_METHODS)}')
    if target is not None and target < 0:
        raise ValueError(f'target must be a class index >= 0, got {target}')
    layer_name = target_layer if target_layer is not None else default_target_layer(vis_model)
    layer = get_module(vis_model.model, layer_name)
    score_model = ScoreModel(vis_model)
    cam_cls = getattr(pytorch_grad_cam, CAM_METHODS[method])
    with cam_cls(model=score_model, target_layers=[layer]) as cam:
        targets = None if target is None else [ClassifierOutputTarget(target)]  # None: the top score
        try:
            heat = cam(input_tensor=inputs, targets=targets)[0]
        except IndexError as e:
            raise ValueError(f'target {target} is out of range of the model\'s scores') from e
        scores = cam.outputs.detach()[0]  # the forward the map explains
    if target is None:
        target = int(scores.argmax())
    if not heat.any():
        print_log(f'{method} of target {target} at {layer_name} is zero everywhere: no location raises the score '
                  '(try another layer or class)', logger='current', level=logging.WARNING)
    prob = float(scores.softmax(0)[target]) if score_model.is_classifier else None
    return CamResult(np.asarray(heat, dtype=np.float32), target, float(scores[target]), prob, layer_name)


__all__ = ['CAM_METHODS', 'ScoreModel', 'CamResult', 'default_target_layer', 'grad_cam']
