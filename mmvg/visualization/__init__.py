"""What the tools under ``tools/visualization/`` share: loading a model from any config (or a bare backbone) and
an image through its data preprocessor, Grad-CAM, and drawing panels into a PNG. The neighbours and cluster
assignments themselves come from the layers (:func:`mmvg.models.layers.graph.record_graphs`,
:func:`mmvg.models.layers.cluster.record_clusters`)."""
from .cam import CAM_METHODS, CamResult, ScoreModel, default_target_layer, grad_cam
from .cli import add_common_args, model_and_inputs
from .drawing import (Panel, grid_size, heatmap_overlay, label_colours, label_overlay, pad_image, save_panels,
                      to_rgb_float, upsample_cells)
from .loading import (VisModel, build_backbone, get_module, load_image, load_model, parse_stage_block, pixel_to_cell,
                      preprocess, records_per_stage)

__all__ = ['CAM_METHODS', 'CamResult', 'ScoreModel', 'default_target_layer', 'grad_cam', 'add_common_args',
           'model_and_inputs', 'Panel', 'grid_size', 'heatmap_overlay', 'label_colours', 'label_overlay',
           'pad_image', 'save_panels', 'to_rgb_float', 'upsample_cells', 'VisModel', 'build_backbone', 'get_module',
           'load_image', 'load_model', 'parse_stage_block', 'pixel_to_cell', 'preprocess',
           'records_per_stage']
