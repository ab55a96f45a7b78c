"""Colour every point of a Context Clusters (CoC) model by the cluster it is assigned to, per stage and head.

The assignment is the one the model makes: the cluster ops record it during the forward
(:func:`mmvg.models.layers.cluster.record_clusters`). One row per stage, one panel per head. A cluster is a centre
of a region: white lines mark the regions (``fold``), whose points can only join their own region's centres, and
each point (a cell of the stage's grid) is coloured by its centre within the region. The titles count the
clusters that received points, out of ``regions x centres per region``.

    # a model trained by a config (mmpretrain, mmdet or mmseg) and an image
    python tools/visualization/vis_coc_clusters.py IMG work_dirs/demo/coc_cls/coc_tiny_in1k.py \\
        work_dirs/demo/coc_cls/epoch_3.pth --img-size 160 --out clusters.png
    # a bare CoC-tiny with random weights
    python tools/visualization/vis_coc_clusters.py IMG --arch tiny --out clusters.png
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.models.layers.cluster import ClusterRecord, record_clusters  # noqa: E402
from mmvg.visualization import (Panel, add_common_args, label_overlay, model_and_inputs, pad_image,  # noqa: E402
                                records_per_stage, save_panels, to_rgb_float, upsample_cells)


def stage_clusters(clusters: Dict[str, List[ClusterRecord]], block: int = -1) -> Dict[int, ClusterRecord]:
    """The assignment of block ``block`` (negative counts from the end) of every stage, by stage index.

    Args:
        clusters (dict): From :func:`record_clusters`, names relative to the backbone.
        block (int): Block index within each stage. Defaults to -1 (the last block).
    """
    per_stage = records_per_stage(clusters, block, 'cluster assignment')
    return {stage: record for stage, (_, _, record) in per_stage.items()}


def cluster_panel(image_rgb, record: ClusterRecord, head: int, stage: int, stride: int) -> Panel:
    """One head's assignment over the image, with the region borders.

    Args:
        image_rgb (np.ndarray): ``(H, W, 3)`` float RGB.
        record (ClusterRecord): The stage's recorded assignment.
        head (int): Head index.
        stage (int): Stage index (for the title).
        stride (int): Stride of the stage in pixels.
    """
    height, width = image_rgb.shape[:2]
    (nh, nw), (rh, rw), (ph, pw) = record.regions, record.region_size, record.proposal_size
    # a cluster is (region, centre of the region): the borders show the region, the colour the centre
    local = record.assign[0, head].cpu().numpy() % (ph * pw)
    overlay = label_overlay(image_rgb, upsample_cells(local, stride, (height, width)), ph * pw)

    def draw(ax):
        for i in range(1, nh):
            ax.axhline(i * rh * stride - .5, color='white', lw=1.2)
        for j in range(1, nw):
            ax.axvline(j * rw * stride - .5, color='white', lw=1.2)

    used = len(torch.unique(record.assign[0, head]))
    grid_h, grid_w = record.assign.shape[-2:]
    title = f'stage {stage} ({grid_h}x{grid_w}), head {head}\n{nh}x{nw} regions x {ph * pw} centres, {used} used'
    return Panel(overlay, title, draw)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Colour the points of a Context Clusters model by their cluster')
    add_common_args(parser, 'mmvg.ContextCluster', 'coc_clusters.png')
    parser.add_argument('--block', type=int, default=-1,
                        help='block of each stage whose assignment to draw (negative from the end). Defaults to -1')
    parser.add_argument('--max-heads', type=int, help='draw only the first N heads of each stage')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    vis_model, image, inputs = model_and_inputs(args)
    with torch.no_grad(), record_clusters(vis_model.backbone) as clusters:
        vis_model.backbone(inputs)
    records = stage_clusters(clusters, args.block)
    strides = vis_model.stage_strides()
    image_rgb = pad_image(to_rgb_float(image), inputs.shape[-2:])  # a detector's padding is drawn grey
    heads = max(r.assign.shape[1] for r in records.values())
    ncols = min(heads, args.max_heads) if args.max_heads else heads
    panels = []
    for stage, record in records.items():
        row = [cluster_panel(image_rgb, record, h, stage, strides[stage])
               for h in range(min(record.assign.shape[1], ncols))]
        panels += row + [None] * (ncols - len(row))
    header = f'{type(vis_model.backbone).__name__}: cluster of every point (block {args.block} of each stage)'
    out = save_panels(panels, args.out, ncols=ncols, panel_px=args.panel_size, header=header)
    print(f'saved {out}')
    return out


if __name__ == '__main__':
    main()
