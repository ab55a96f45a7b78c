"""The generated 'shapes' data set: COCO, ADE20K and ImageNet on-disk formats without downloading anything.

Images hold filled circles, squares and triangles on flat, gradient or lightly noisy backgrounds. Everything is
drawn from ``numpy.random.default_rng([seed, stream, split, index])``, one generator per image, so a set is
byte-identical for a seed, and a smaller set is a prefix of a larger one. Shapes are rasterised exactly on the
pixel grid (no anti-aliasing), so masks, label maps and image pixels agree.

Scenes (detection and segmentation) hold 1-4 shapes whose circumscribed circle is 12%-45% of the short side
(``shape_size``).
Later shapes occlude earlier ones; a shape is re-drawn (at most 10 times, then left out) where it
would leave less than ``min_visible`` (30% by default) of an earlier shape visible, cut a hole into it, or leave
a visible piece smaller than ``_MIN_PIECE_AREA``. So every annotated instance is visible, and its visible part is
a few simple polygons.
The detection and segmentation sets of one seed show the same scenes. Classification images hold exactly one
shape (40%-80% of the short side), the classes in turn.

Layout under ``root`` (``data/shapes`` by default), read by the upstream datasets unchanged::

    coco/                                  mmdet CocoDataset, metainfo=dict(classes=SHAPES_CLASSES)
        train2017/000000000001.jpg ...     image ids start at 1 in each split
        val2017/...
        annotations/instances_{train,val}2017.json
    ade/ADEChallengeData2016/              mmseg, reduce_zero_label=True, classes SHAPES_SEG_CLASSES
        images/{training,validation}/ADE_{train,val}_00000001.jpg ...
        annotations/{training,validation}/ADE_{train,val}_00000001.png ...
    imagenet/                              mmpretrain ImageNet / CustomDataset, classes SHAPES_CLASSES
        {train,val}/<class>/<class>_000000.JPEG ...
        meta/{train,val}.txt               lines '<class>/<file>.JPEG <label>'

COCO annotations carry polygons that rasterise back to exactly the visible mask with pycocotools (which fills the
pixels whose centre ``(x + 0.5, y + 0.5)`` is inside): :func:`mask_to_polygons` traces the mask upsampled twice,
so each polygon runs a quarter pixel inside the pixel edges. ``area`` is the mask's pixel count and ``bbox`` is
tight on the mask in pixel edges; a mask in several pieces has one polygon per piece.
ADE label maps hold 1 for background and 2-4 for the shape classes; 0 (ignored) is never written.

Each data root gets a ``.complete`` JSON file (:data:`MARKER_FILE`) with the parameters and counts, written last
into a ``<data root>.partial`` directory that then replaces the data root, so an interrupted run never looks
complete and a re-run with other parameters leaves no stale files.

Example:
    >>> from mmvg.datasets import generate_shapes
    >>> roots = generate_shapes('data/shapes', num_train=800, num_val=100)
    >>> roots['det']
    'data/shapes/coco'
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from filelock import FileLock
from PIL import Image

SHAPES_CLASSES = ('circle', 'square', 'triangle')
SHAPES_SEG_CLASSES = ('background', ) + SHAPES_CLASSES
SHAPES_PALETTE = [(220, 20, 60), (0, 114, 255), (60, 180, 75)]
SHAPES_SEG_PALETTE = [(120, 120, 120)] + SHAPES_PALETTE
MARKER_FILE = '.complete'
GENERATOR_VERSION = 1
TASKS = ('det', 'seg', 'cls')

_TASK_DIRS = {'det': 'coco', 'seg': osp.join('ade', 'ADEChallengeData2016'), 'cls': 'imagenet'}
_SPLITS = ('train', 'val')
_ADE_SPLITS = {'train': 'training', 'val': 'validation'}
_SCENE_STREAM, _SINGLE_STREAM = 0, 1
_SCENE_SIZE = (0.12, 0.45)  # circumscribed diameter / short side
_SINGLE_SIZE = (0.4, 0.8)
_MAX_SHAPES = 4
_MAX_TRIES = 10
_MIN_VISIBLE = 0.3  # default visible fraction an earlier shape keeps
_MIN_PIECE_AREA = 16.  # area (px^2) of the polygon through the boundary pixel centres of every visible piece
_MIN_SIDE = 64
_BG_CONTRAST = 100.  # RGB distance of a shape colour to every background colour
_SHAPE_CONTRAST = 60.  # RGB distance between the shape colours of one image
_COLOUR_CANDIDATES = 32
_NOISE_STD = 6.
_GRADIENT_SPAN = 90.
_JPEG_QUALITY = 95
_VERTICES = {'square': 4, 'triangle': 3}


class Scene(NamedTuple):
    """A rendered image and its instances.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        instance_map (np.ndarray): ``(H, W)`` int32 map, 0 for background and ``k`` for the ``k``-th instance.
        labels (List[int]): class index (into :data:`SHAPES_CLASSES`) of instance ``k`` at ``labels[k - 1]``.
    """
    image: np.ndarray
    instance_map: np.ndarray
    labels: List[int]


def _background(rng: np.random.Generator, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw a flat, gradient or noisy background.

    Returns:
        tuple: the ``(H, W, 3)`` float image and the ``(2, 3)`` end colours of the segment of RGB space that its
        colours lie on (up to the light noise).
    """
    start = rng.uniform(0, 255, 3)
    kind = ('flat', 'gradient', 'noise')[rng.integers(3)]
    if kind == 'gradient':
        end = np.clip(start + rng.uniform(-_GRADIENT_SPAN, _GRADIENT_SPAN, 3), 0, 255)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.ogrid[:height, :width]
        proj = xs * np.cos(angle) + ys * np.sin(angle)  # H, W
        t = (proj - proj.min()) / (proj.max() - proj.min())
        return start + t[..., None] * (end - start), np.stack([start, end])
    image = np.broadcast_to(start, (height, width, 3)).astype(np.float64)
    if kind == 'noise':
        image = image + rng.normal(0, _NOISE_STD, image.shape)
    return image, np.stack([start, start])


def _distance_to_segment(points: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Euclidean distance of ``(N, 3)`` points to the segment between the two rows of ``ends``."""
    direction = ends[1] - ends[0]
    t = np.clip((points - ends[0]) @ direction / max(direction @ direction, 1e-6), 0, 1)
    return np.linalg.norm(points - (ends[0] + t[:, None] * direction), axis=1)


def _pick_colour(rng: np.random.Generator, bg_ends: np.ndarray, used: Sequence[np.ndarray]) -> np.ndarray:
    """Pick the first random colour far enough from the background and the other shapes, else the farthest."""
    candidates = rng.integers(0, 256, (_COLOUR_CANDIDATES, 3)).astype(np.float64)
    score = _distance_to_segment(candidates, bg_ends) / _BG_CONTRAST
    for colour in used:
        score = np.minimum(score, np.linalg.norm(candidates - colour, axis=1) / _SHAPE_CONTRAST)
    good = score >= 1
    return candidates[np.argmax(good) if good.any() else np.argmax(score)]


def _shape_mask(name: str, centre: np.ndarray, radius: float, angle: float, height: int, width: int) -> np.ndarray:
    """Rasterise a shape: the pixels whose centre (integer index) lies inside it.

    Args:
        name (str): one of :data:`SHAPES_CLASSES`.
        centre (np.ndarray): ``(x, y)`` in pixel indices.
        radius (float): radius of the circumscribed circle.
        angle (float): rotation of the polygon in radians.
        height (int): image height.
        width (int): image width.

    Returns:
        np.ndarray: ``(H, W)`` bool mask.
    """
    ys, xs = np.ogrid[:height, :width]
    dx, dy = xs - centre[0], ys - centre[1]
    if name == 'circle':
        return dx**2 + dy**2 <= radius**2
    angles = angle + 2 * np.pi * np.arange(_VERTICES[name]) / _VERTICES[name]
    vertices = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # by increasing angle: inside, cross >= 0
    inside = np.ones((height, width), dtype=bool)
    for (x0, y0), (x1, y1) in zip(vertices, np.roll(vertices, -1, axis=0)):
        inside &= (x1 - x0) * (dy - y0) - (y1 - y0) * (dx - x0) >= 0
    return inside


def _random_shape(rng: np.random.Generator, label: int, height: int, width: int,
                  size_frac: Tuple[float, float]) -> np.ndarray:
    """Draw a size, a position (circumscribed circle inside the image) and a rotation; return the mask."""
    radius = rng.uniform(*size_frac) * min(height, width) / 2
    centre = rng.uniform([radius, radius], [width - 1 - radius, height - 1 - radius])
    angle = rng.uniform(0, 2 * np.pi)
    return _shape_mask(SHAPES_CLASSES[label], centre, radius, angle, height, width)


def _contours(mask: np.ndarray) -> Tuple[List[np.ndarray], bool]:
    """Outer contours of a mask as ``(N_i, 2)`` arrays of pixel indices, and whether the mask has a hole."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return [], False
    outer = hierarchy[0, :, 3] < 0
    return [c.reshape(-1, 2) for c, o in zip(contours, outer) if o], not outer.all()


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Convert a hole-free binary mask to COCO polygons that rasterise back to exactly the mask.

    The contours (``cv2.findContours``, 8-connected pieces) of the mask upsampled twice pass through the centres
    of the boundary sub-pixels; in COCO's continuous coordinates, where pixel ``(x, y)`` covers
    ``[x, x + 1) x [y, y + 1)``, they run a quarter pixel inside the mask's outline and enclose the centre of every
    mask pixel and of no other pixel.

    Args:
        mask (np.ndarray): ``(H, W)`` bool mask.

    Returns:
        List[List[float]]: one ``[x1, y1, x2, y2, ...]`` polygon per connected piece.
    """
    upsampled = mask.astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)
    contours, _ = cv2.findContours(upsampled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [((c.reshape(-1) + 0.5) / 2).tolist() for c in contours]


def _visible_ok(visible: np.ndarray, full_area: int, min_visible: float) -> bool:
    """Whether an instance's visible part is large enough, hole-free and made of non-degenerate pieces."""
    if visible.sum() < min_visible * full_area:
        return False
    contours, has_hole = _contours(visible)
    return not has_hole and all(len(c) >= 3 and cv2.contourArea(c) >= _MIN_PIECE_AREA for c in contours)


def render_scene(rng: np.random.Generator,
                 height: int,
                 width: int,
                 labels: Sequence[int],
                 size_frac: Tuple[float, float] = _SCENE_SIZE,
                 min_visible: float = _MIN_VISIBLE) -> Scene:
    """Render shapes of the given classes, each on top of the previous ones.

    Args:
        rng (np.random.Generator): the only source of randomness.
        height (int): image height, at least 64.
        width (int): image width, at least 64.
        labels (Sequence[int]): class indices into :data:`SHAPES_CLASSES`, bottom to top.
        size_frac (Tuple[float, float]): range of the circumscribed diameter as a fraction of the short side.
            Defaults to ``(0.12, 0.45)``.
        min_visible (float): the fraction of an earlier shape that must stay visible. Defaults to 0.3.

    Returns:
        Scene: the image and its instances. A shape that could not be placed without hiding too much of an
        earlier one within 10 draws is left out, so ``Scene.labels`` may be shorter than ``labels``.
    """
    image, bg_ends = _background(rng, height, width)
    instance_map = np.zeros((height, width), dtype=np.int32)
    placed, colours, full_areas = [], [], []
    for label in labels:
        for _ in range(_MAX_TRIES):
            mask = _random_shape(rng, int(label), height, width, size_frac)
            candidate = np.where(mask, len(placed) + 1, instance_map)
            areas = full_areas + [int(mask.sum())]
            touched = [k for k in np.unique(instance_map[mask]) if k > 0] + [len(placed) + 1]
            if all(_visible_ok(candidate == k, areas[k - 1], min_visible) for k in touched):
                instance_map, full_areas = candidate, areas
                placed.append(int(label))
                colours.append(_pick_colour(rng, bg_ends, colours))
                break
    for k, colour in enumerate(colours, 1):
        image[instance_map == k] = colour
    return Scene(np.clip(np.rint(image), 0, 255).astype(np.uint8), instance_map, placed)


def _scenes(params: dict, split: str, single: bool) -> Iterator[Tuple[int, Scene]]:
    """Yield ``(index, scene)`` of one split: multi-shape scenes, or one shape per image (classes in turn)."""
    stream = _SINGLE_STREAM if single else _SCENE_STREAM
    for index in range(params[f'num_{split}']):
        rng = np.random.default_rng([params['seed'], stream, _SPLITS.index(split), index])
        if params['size_range'] is None:
            height, width = params['img_size']
        else:
            height, width = (int(s) for s in rng.integers(params['size_range'][0], params['size_range'][1] + 1, 2))
        if single:
            yield index, render_scene(rng, height, width, [index % len(SHAPES_CLASSES)], _SINGLE_SIZE)
        else:
            labels = rng.integers(0, len(SHAPES_CLASSES), rng.integers(1, _MAX_SHAPES + 1))
            yield index, render_scene(rng, height, width, labels, tuple(params['shape_size']),
                                      params['min_visible'])


def _save_jpeg(image: np.ndarray, path: str) -> None:
    Image.fromarray(image).save(path, format='JPEG', quality=_JPEG_QUALITY, subsampling=0)  # 4:4:4 keeps edges


def _dump_json(obj: dict, path: str, indent: Optional[int] = None) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=indent, separators=(',', ': ') if indent else (',', ':'))


def _coco_annotations(scene: Scene, image_id: int, first_id: int) -> List[dict]:
    """COCO instance annotations of the visible part of each instance of a scene."""
    annotations = []
    for k, label in enumerate(scene.labels, 1):
        visible = scene.instance_map == k
        ys, xs = np.nonzero(visible)
        x0, y0 = int(xs.min()), int(ys.min())
        annotations.append(
            dict(
                id=first_id + len(annotations),
                image_id=image_id,
                category_id=label + 1,
                segmentation=mask_to_polygons(visible),
                area=int(visible.sum()),
                bbox=[x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0],
                iscrowd=0))
    return annotations


def _write_coco(out_dir: str, params: dict) -> dict:
    """Write the COCO-style detection set; return its counts per split."""
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(SHAPES_CLASSES)]
    counts = {}
    for split in _SPLITS:
        img_dir = osp.join(out_dir, f'{split}2017')
        os.makedirs(img_dir)
        images, annotations = [], []
        for index, scene in _scenes(params, split, single=False):
            image_id = index + 1
            file_name = f'{image_id:012d}.jpg'
            _save_jpeg(scene.image, osp.join(img_dir, file_name))
            height, width = scene.instance_map.shape
            images.append(dict(id=image_id, file_name=file_name, height=height, width=width))
            annotations += _coco_annotations(scene, image_id, len(annotations) + 1)
        coco = dict(
            info=dict(description='mmvg generated shapes', version=str(GENERATOR_VERSION)),
            licenses=[],
            images=images,
            annotations=annotations,
            categories=categories)
        _dump_json(coco, osp.join(out_dir, 'annotations', f'instances_{split}2017.json'))
        counts[split] = dict(images=len(images), instances=len(annotations))
    return counts


def _write_ade(out_dir: str, params: dict) -> dict:
    """Write the ADE20K-style segmentation set (label 1 background, 2.. shapes); return its counts per split."""
    counts = {}
    for split in _SPLITS:
        img_dir = osp.join(out_dir, 'images', _ADE_SPLITS[split])
        ann_dir = osp.join(out_dir, 'annotations', _ADE_SPLITS[split])
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        for index, scene in _scenes(params, split, single=False):
            stem = f'ADE_{split}_{index + 1:08d}'
            _save_jpeg(scene.image, osp.join(img_dir, f'{stem}.jpg'))
            lut = np.array([1] + [label + 2 for label in scene.labels], dtype=np.uint8)
            Image.fromarray(lut[scene.instance_map]).save(osp.join(ann_dir, f'{stem}.png'))
        counts[split] = dict(images=params[f'num_{split}'])
    return counts


def _write_imagenet(out_dir: str, params: dict) -> dict:
    """Write the ImageNet-style classification set (class folders + meta lists); return its counts per split."""
    counts = {}
    for split in _SPLITS:
        for name in SHAPES_CLASSES:
            os.makedirs(osp.join(out_dir, split, name))
        lines = []
        for index, scene in _scenes(params, split, single=True):
            label = scene.labels[0]
            rel_path = f'{SHAPES_CLASSES[label]}/{SHAPES_CLASSES[label]}_{index:06d}.JPEG'
            _save_jpeg(scene.image, osp.join(out_dir, split, rel_path))
            lines.append(f'{rel_path} {label}\n')
        os.makedirs(osp.join(out_dir, 'meta'), exist_ok=True)
        with open(osp.join(out_dir, 'meta', f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.writelines(lines)
        counts[split] = dict(images=len(lines))
    return counts


_WRITERS: Dict[str, Callable[[str, dict], dict]] = dict(det=_write_coco, seg=_write_ade, cls=_write_imagenet)


def read_marker(data_root: str) -> Optional[dict]:
    """Read the ``.complete`` record of a generated data root.

    Args:
        data_root (str): a path returned by :func:`generate_shapes`.

    Returns:
        dict, optional: ``task``, ``params`` and ``counts``; None if the data root is absent or incomplete.
    """
    try:
        with open(osp.join(data_root, MARKER_FILE), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _build(data_root: str, task: str, params: dict) -> None:
    """Generate one task's data root unless it is complete with the same parameters.

    Processes building the same root at once (the ranks of a distributed demo) take turns on a lock file in the
    temporary directory, named after the root: the first generates it, the others then find it complete.
    """
    marker = read_marker(data_root)
    if marker is not None and marker.get('params') == params:
        return
    key = hashlib.sha1(osp.abspath(data_root).encode()).hexdigest()[:16]
    with FileLock(osp.join(tempfile.gettempdir(), f'mmvg_shapes_{key}.lock')):
        marker = read_marker(data_root)
        if marker is not None and marker.get('params') == params:
            return
        _generate(data_root, task, params)


def _generate(data_root: str, task: str, params: dict) -> None:
    if osp.exists(data_root) and not osp.isfile(osp.join(data_root, MARKER_FILE)):
        raise FileExistsError(f'{data_root} exists but was not written by generate_shapes (it has no '
                              f'{MARKER_FILE}): move it away or choose another root')
    partial = f'{data_root}.partial'
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        counts = _WRITERS[task](partial, params)
        _dump_json(dict(task=task, params=params, counts=counts), osp.join(partial, MARKER_FILE), indent=2)
        if osp.exists(data_root):
            shutil.rmtree(data_root)
        os.replace(partial, data_root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _check_args(num_train: int, num_val: int, img_size: Tuple[int, int], size_range: Optional[Tuple[int, int]],
                shape_size: Tuple[float, float], min_visible: float, seed: int, tasks: Sequence[str]) -> None:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f'unknown tasks {unknown}; valid tasks are {TASKS}')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train and num_val must be at least 1, got {num_train} and {num_val}')
    if seed < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    if len(img_size) != 2 or min(img_size) < _MIN_SIDE:
        raise ValueError(f'img_size must be (height, width) with both at least {_MIN_SIDE}, got {img_size}')
    if len(shape_size) != 2 or not 0 < shape_size[0] <= shape_size[1] <= 1:
        raise ValueError(f'shape_size must be (min, max) fractions with 0 < min <= max <= 1, got {shape_size}')
    if not 0 < min_visible <= 1:
        raise ValueError(f'min_visible must be a fraction in (0, 1], got {min_visible}')
    if size_range is not None and (len(size_range) != 2 or not _MIN_SIDE <= size_range[0] <= size_range[1]):
        raise ValueError(f'size_range must be (min, max) with {_MIN_SIDE} <= min <= max, got {size_range}')


def generate_shapes(root: str = 'data/shapes',
                    num_train: int = 800,
                    num_val: int = 100,
                    img_size: Tuple[int, int] = (256, 256),
                    size_range: Optional[Tuple[int, int]] = None,
                    shape_size: Tuple[float, float] = _SCENE_SIZE,
                    min_visible: float = _MIN_VISIBLE,
                    seed: int = 0,
                    tasks: Sequence[str] = TASKS) -> Dict[str, str]:
    """Generate the shapes data sets, or return at once where they are complete with the same parameters.

    Args:
        root (str): directory that receives ``coco/``, ``ade/`` and ``imagenet/``. Defaults to ``'data/shapes'``.
        num_train (int): images in each task's training split. Defaults to 800.
        num_val (int): images in each task's validation split. Defaults to 100.
        img_size (Tuple[int, int]): ``(height, width)`` of every image, each at least 64. Defaults to
            ``(256, 256)``.
        size_range (Tuple[int, int], optional): ``(min, max)``; if given, the height and the width of each image
            are drawn independently from it (inclusive) instead of using ``img_size``. Defaults to None.
        shape_size (Tuple[float, float]): range of a scene shape's circumscribed diameter, as a fraction of the
            image's short side (detection and segmentation scenes). Defaults to ``(0.12, 0.45)``.
        min_visible (float): the fraction of each scene shape that later shapes must leave visible; 1 means no
            occlusion. Defaults to 0.3.
        seed (int): non-negative seed; the same seed gives byte-identical files. Defaults to 0.
        tasks (Sequence[str]): any of ``'det'`` (COCO instances), ``'seg'`` (ADE20K) and ``'cls'`` (ImageNet).
            Defaults to all three.

    Returns:
        Dict[str, str]: the data root of each task in ``tasks``: ``root/coco``,
        ``root/ade/ADEChallengeData2016`` and ``root/imagenet``.
    """
    _check_args(num_train, num_val, img_size, size_range, shape_size, min_visible, seed, tasks)
    params = dict(
        version=GENERATOR_VERSION,
        seed=int(seed),
        num_train=int(num_train),
        num_val=int(num_val),
        img_size=[int(s) for s in img_size],
        size_range=None if size_range is None else [int(s) for s in size_range],
        shape_size=[float(s) for s in shape_size],
        min_visible=float(min_visible))
    roots = {}
    for task in tasks:
        roots[task] = osp.join(root, _TASK_DIRS[task])
        _build(roots[task], task, params)
    return roots
