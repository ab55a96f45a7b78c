"""Grad-CAM of an mmvg classifier (an mmpretrain config and checkpoint) on one image, through pytorch-grad-cam
(``pip install grad-cam``, or ``mmvg[vis]``).

One panel shows the image with the predicted (or ``--target-class``) class and its probability, then one panel per
``--target-layer`` (default: the backbone's last stage; list indices may be negative, e.g. ``backbone.stages.-2``).
A model without a classification head (a detector, a segmentor, a bare backbone) is explained by the norm of its
pooled last backbone output instead of a class score.

    python tools/visualization/gradcam.py IMG work_dirs/demo/pvig_ti_cls/pvig_small_in1k.py \\
        work_dirs/demo/pvig_ti_cls/epoch_3.pth --img-size 160 \\
        --target-layer backbone.stages.1 backbone.stages.2 backbone.stages.3 --out gradcam.png
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.visualization import (CAM_METHODS, Panel, add_common_args, default_target_layer, grad_cam,  # noqa: E402
                                heatmap_overlay, model_and_inputs, save_panels, to_rgb_float)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Grad-CAM of an mmvg classifier')
    add_common_args(parser, 'mmvg.PyramidViG', 'gradcam.png')
    parser.add_argument('--target-layer', nargs='+',
                        help='module names in the model, one panel each. Defaults to the last backbone stage')
    parser.add_argument('--target-class', help='class index or name to explain. Defaults to the predicted class')
    parser.add_argument('--method', default='gradcam', choices=sorted(CAM_METHODS), help='CAM method')
    return parser.parse_args(argv)


def _class_index(target: Optional[str], classes: Optional[Sequence[str]]) -> Optional[int]:
    if target is None or target.lstrip('-').isdigit():
        return None if target is None else int(target)
    if not classes or target not in classes:
        raise ValueError(f'unknown class {target!r}; the model knows {list(classes or [])}')
    return list(classes).index(target)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    vis_model, image, inputs = model_and_inputs(args)
    height, width = image.shape[:2]
    image_rgb = to_rgb_float(image)
    target = _class_index(args.target_class, vis_model.classes)
    layers = args.target_layer or [default_target_layer(vis_model)]
    panels, result = [], None
    for layer in layers:
        result = grad_cam(vis_model, inputs, layer, target, args.method)
        target = result.target  # every layer explains the same class
        panels.append(Panel(heatmap_overlay(image_rgb, result.cam[:height, :width]), f'{args.method}: {layer}'))
    if vis_model.is_classifier:
        name = vis_model.classes[target] if vis_model.classes else f'class {target}'
        what = f'{name} (p={result.prob:.2f})'
    else:
        what = f'feature energy {result.score:.3g} (no classification head)'
    panels.insert(0, Panel(image_rgb, what))
    header = f'{type(vis_model.backbone).__name__}: {args.method} of {what}'
    out = save_panels(panels, args.out, ncols=len(panels), panel_px=args.panel_size, header=header)
    print(f'saved {out}')
    return out


if __name__ == '__main__':
    main()
