"""The command-line arguments every tool under ``tools/visualization/`` shares: the image, the model (a config with
an optional checkpoint, or a bare backbone arch with random weights) and the output file."""
import argparse
import ast
from typing import Tuple

import numpy as np
import torch
from mmengine.config import DictAction

from .loading import VisModel, build_backbone, load_image, load_model, preprocess


def add_common_args(parser: argparse.ArgumentParser, backbone_type: str, default_out: str) -> None:
    """Add the image, model and output arguments.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        backbone_type (str): Registered backbone built by ``--arch`` without a config, e.g. ``'mmvg.PyramidViG'``.
        default_out (str): Default of ``--out``.
    """
    parser.add_argument('img', help='image file')
    parser.add_argument('config', nargs='?', help='mmdet, mmseg or mmpretrain config (e.g. the one a training run '
                        'saved in its work dir); omit it to use --arch with random weights')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint of the config, loaded strictly; omitted: the '
                        "config's own initialisation")
    parser.add_argument('--arch', default='tiny',
                        help=f"without a config: {backbone_type} arch name or dict (e.g. \"{{'depths': [1, 1, 1, 1], "
                        "...}\"), random weights. Defaults to tiny")
    parser.add_argument('--img-size', type=int, nargs='+', metavar='N',
                        help='resize the image first: one value for the shorter edge, two for width height')
    parser.add_argument('--out', default=default_out, help=f'PNG to write. Defaults to {default_out}')
    parser.add_argument('--device', default='cpu', help='torch device. Defaults to cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    parser.add_argument('--panel-size', type=int, default=256, help='panel width in pixels. Defaults to 256')
    parser.set_defaults(backbone_type=backbone_type)


def model_and_inputs(args: argparse.Namespace) -> Tuple[VisModel, np.ndarray, torch.Tensor]:
    """The model, the (resized) uint8 BGR image and its preprocessed ``(1, 3, H', W')`` tensor from the parsed
    arguments of :func:`add_common_args`.

    Args:
        args (argparse.Namespace): Parsed arguments.
    """
    if args.config:
        vis_model = load_model(args.config, args.checkpoint, args.device, args.cfg_options)
    else:
        if args.checkpoint:
            raise ValueError('a checkpoint needs its config')
        arch = args.arch
        if isinstance(arch, str) and arch.lstrip().startswith('{'):
            arch = ast.literal_eval(arch)
        vis_model = build_backbone(dict(type=args.backbone_type, arch=arch), args.device)
    image = load_image(args.img, args.img_size)
    return vis_model, image, preprocess(vis_model, image).to(args.device)


__all__ = ['add_common_args', 'model_and_inputs']
