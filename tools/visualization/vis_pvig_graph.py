"""Draw the k neighbours that a Pyramid ViG links one node to, at every stage, on the image.

The neighbours are the ones the model uses: the graph convs record their neighbour indices during the forward
(:func:`mmvg.models.layers.graph.record_graphs`). One panel per stage shows the node's cell (red), its ``k``
neighbours (cyan dots, nearest first in the record) and, where keys are pooled, the window each neighbour
averages; the title notes the block, ``k``, the dilation and the key grid. The node is the one under ``--point``,
or the peak of Grad-CAM (a first panel then shows the map).

    # a model trained by a config (mmpretrain, mmdet or mmseg) and an image
    python tools/visualization/vis_pvig_graph.py IMG work_dirs/demo/pvig_ti_cls/pvig_small_in1k.py \\
        work_dirs/demo/pvig_ti_cls/epoch_3.pth --img-size 160 --out graph.png
    # a bare PViG-Ti with random weights, the node under pixel (80, 40)
    python tools/visualization/vis_pvig_graph.py IMG --arch tiny --point 80 40 --out graph.png
"""
import argparse
import os.path as osp
import sys
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models.layers.graph import GraphRecord, record_graphs  # noqa: E402
from mmvg.visualization import (CAM_METHODS, Panel, add_common_args, grad_cam, heatmap_overlay,  # noqa: E402
                                model_and_inputs, pad_image, pixel_to_cell, records_per_stage, save_panels,
                                to_rgb_float)


class StageGraph(NamedTuple):
    """The graph of one block, chosen to stand for its stage."""
    stage: int
    block: int
    num_blocks: int
    stride: int
    record: GraphRecord


def stage_graphs(graphs: dict, strides: Sequence[int], block: int = -1) -> List[StageGraph]:
    """One recorded graph per stage: that of block ``block`` (negative counts from the end) of each stage.

    Args:
        graphs (dict): From :func:`record_graphs`, names relative to the backbone.
        strides (Sequence[int]): Stride of each stage.
        block (int): Block index within each stage. Defaults to -1 (the last block).
    """
    return [StageGraph(stage, b, num_blocks, strides[stage], record)
            for stage, (b, num_blocks, record) in records_per_stage(graphs, block, 'graph').items()]


def node_neighbours(graph: StageGraph, point: Tuple[float, float]) -> Tuple[int, List[int]]:
    """The node under the pixel ``point = (x, y)`` and the key indices of its neighbours (nearest first)."""
    h, w = graph.record.query_size
    row, col = pixel_to_cell(point[0], point[1], graph.stride, (h, w))
    node = row * w + col
    return node, graph.record.idx[0, node].tolist()


def _cell_box(rows: Tuple[int, int], cols: Tuple[int, int], stride: int) -> Tuple[float, float, float, float]:
    # (x0, y0, width, height) in pixel coordinates (pixel centres at integers) of grid cells [r0, r1) x [c0, c1)
    return cols[0] * stride - .5, rows[0] * stride - .5, (cols[1] - cols[0]) * stride, (rows[1] - rows[0]) * stride


def graph_panel(image_rgb, graph: StageGraph, point: Tuple[float, float]) -> Panel:
    """The panel of one stage: the node, its neighbours and their key windows.

    Args:
        image_rgb (np.ndarray): ``(H, W, 3)`` float RGB.
        graph (StageGraph): The stage's recorded graph.
        point (tuple[float, float]): ``(x, y)`` pixel of the node.
    """
    from matplotlib.patches import Rectangle

    rec, s = graph.record, graph.stride
    (h, w), (hk, wk), r = rec.query_size, rec.key_size, rec.reduce_ratio
    node, nbrs = node_neighbours(graph, point)
    row, col = divmod(node, w)
    node_box = _cell_box((row, row + 1), (col, col + 1), s)
    cx, cy = node_box[0] + node_box[2] / 2, node_box[1] + node_box[3] / 2

    def draw(ax):
        for j in nbrs:
            a, b = divmod(j, wk)
            box = _cell_box((a * r, min((a + 1) * r, h)), (b * r, min((b + 1) * r, w)), s)
            kx, ky = box[0] + box[2] / 2, box[1] + box[3] / 2
            ax.add_patch(Rectangle(box[:2], box[2], box[3], fill=True, facecolor=(0, 1, 1, .18),
                                   edgecolor=(0, .9, .9, .9), lw=.8))
            ax.plot([cx, kx], [cy, ky], color=(1, .9, 0, .8), lw=.9)
            ax.plot(kx, ky, 'o', ms=4, mfc=(0, 1, 1), mec='black', mew=.6)
        ax.add_patch(Rectangle(node_box[:2], node_box[2], node_box[3], fill=False, edgecolor='red', lw=1.6))
        ax.plot(cx, cy, '*', ms=9, mfc='red', mec='white', mew=.7)

    pooled = f', pooled {r}x{r}' if r > 1 else ''
    title = (f'stage {graph.stage}, block {graph.block + 1}/{graph.num_blocks}: {h}x{w} nodes, stride {s}\n'
             f'k={len(nbrs)}, dilation {rec.dilation}, keys {hk}x{wk}{pooled}')
    return Panel(image_rgb, title, draw)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw the KNN graph of one node of a Pyramid ViG at every stage')
    add_common_args(parser, 'mmvg.PyramidViG', 'pvig_graph.png')
    parser.add_argument('--point', type=float, nargs=2, metavar=('X', 'Y'),
                        help='pixel of the node, in the (resized) image; default: the Grad-CAM peak')
    parser.add_argument('--block', type=int, default=-1,
                        help='block of each stage whose graph to draw (negative from the end). Defaults to -1')
    parser.add_argument('--target-layer', help='Grad-CAM layer for choosing the node. Defaults to the last stage')
    parser.add_argument('--target-class', type=int, help='Grad-CAM class. Defaults to the predicted one')
    parser.add_argument('--method', default='gradcam', choices=sorted(CAM_METHODS), help='CAM method')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    vis_model, image, inputs = model_and_inputs(args)
    height, width = image.shape[:2]
    # the graphs cover the model's input: a detector's preprocessor pads it (bottom, right; drawn grey)
    image_rgb = pad_image(to_rgb_float(image), inputs.shape[-2:])
    panels = []
    with record_graphs(vis_model.backbone) as graphs:
        if args.point is None:  # the Grad-CAM forward is the one whose graphs are drawn
            cam = grad_cam(vis_model, inputs, args.target_layer, args.target_class, args.method)
            heat = cam.cam[:height, :width]
            y, x = divmod(int(heat.argmax()), width)
            point = (float(x), float(y))
            if not vis_model.is_classifier:
                what = 'feature energy'
            else:
                what = vis_model.classes[cam.target] if vis_model.classes else f'class {cam.target}'
            heat = pad_image(heat[..., None], inputs.shape[-2:], 0.)[..., 0]
            panels.append(Panel(heatmap_overlay(image_rgb, heat), f'Grad-CAM of {what}\n{cam.layer}, node at its peak',
                                lambda ax: ax.plot(x, y, '*', ms=9, mfc='red', mec='white', mew=.7)))
        else:
            point = tuple(args.point)
            if not (0 <= point[0] < width and 0 <= point[1] < height):
                raise ValueError(f'--point {point} is outside the {width}x{height} image')
            with torch.no_grad():
                vis_model.backbone(inputs)
    for graph in stage_graphs(graphs, vis_model.stage_strides(), args.block):
        panels.append(graph_panel(image_rgb, graph, point))
    header = f'{type(vis_model.backbone).__name__}: neighbours of the node at pixel ({point[0]:.0f}, {point[1]:.0f})'
    out = save_panels(panels, args.out, ncols=len(panels), panel_px=args.panel_size, header=header)
    print(f'saved {out}')
    return out


if __name__ == '__main__':
    main()
