"""Generate the shapes data sets (COCO instances, ADE20K-style masks, ImageNet-style folders) for demos and tests.

    python tools/misc/generate_shapes.py                                    # 800 / 100 images of 256x256 per task
    python tools/misc/generate_shapes.py --num-train 12 --num-val 4 --tasks det --root /tmp/shapes
    python tools/misc/generate_shapes.py --size-range 192 320               # each side drawn from [192, 320]

A data root that is already complete with the same parameters is left as it is.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a checkout

from mmvg.datasets.shapes import TASKS, generate_shapes, read_marker  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate the shapes data sets')
    parser.add_argument('--root', default='data/shapes', help='output directory (default: data/shapes)')
    parser.add_argument('--num-train', type=int, default=800, help='training images per task (default: 800)')
    parser.add_argument('--num-val', type=int, default=100, help='validation images per task (default: 100)')
    parser.add_argument('--img-size', type=int, nargs=2, default=(256, 256), metavar=('H', 'W'),
                        help='image height and width (default: 256 256)')
    parser.add_argument('--size-range', type=int, nargs=2, metavar=('MIN', 'MAX'),
                        help='draw each image side from [MIN, MAX] instead of --img-size')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--tasks', nargs='+', choices=TASKS, default=list(TASKS),
                        help='det: COCO instances, seg: ADE20K, cls: ImageNet (default: all)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    roots = generate_shapes(
        root=args.root,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=tuple(args.img_size),
        size_range=None if args.size_range is None else tuple(args.size_range),
        seed=args.seed,
        tasks=args.tasks)
    for task, data_root in roots.items():
        counts = read_marker(data_root)['counts']
        summary = ', '.join(f'{split}: ' + ' / '.join(f'{v} {k}' for k, v in c.items()) for split, c in counts.items())
        print(f'{task}: {data_root} ({summary})')
    print(f'done in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
