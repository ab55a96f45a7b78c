"""The generated shapes data: determinism, idempotence, annotation geometry, and that the upstream datasets of
mmdet, mmseg and mmpretrain read it unchanged."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

from mmvg.datasets import (MARKER_FILE, SHAPES_CLASSES, SHAPES_SEG_CLASSES, SHAPES_SEG_PALETTE, generate_shapes,
                           read_marker, render_scene)

KWARGS = dict(num_train=9, num_val=3, img_size=(96, 128), seed=0)
TINY = dict(num_train=3, num_val=1, img_size=(64, 80), seed=0)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    return generate_shapes(str(tmp_path_factory.mktemp('shapes')), **KWARGS)


def read_tree(root):
    """Relative path -> bytes of every file below ``root``."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def mtimes(root):
    return {p: os.stat(osp.join(root, p)).st_mtime_ns for p in read_tree(root)}


def load_rgb(path):
    return np.asarray(Image.open(path).convert('RGB'), dtype=np.float64)


def foreground_by_colour(image, threshold=50.):
    """Pixels far (RGB) from the background colours, which lie on the segment between two image corners."""
    corners = np.stack([image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]])
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    i, j = max(pairs, key=lambda p: np.linalg.norm(corners[p[0]] - corners[p[1]]))
    start, direction = corners[i], corners[j] - corners[i]
    t = np.clip((image - start) @ direction / max(direction @ direction, 1e-6), 0, 1)
    return np.linalg.norm(image - (start + t[..., None] * direction), axis=-1) > threshold


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_layout_and_counts(shapes):
    coco, ade, imagenet = shapes['det'], shapes['seg'], shapes['cls']
    assert sorted(os.listdir(osp.join(coco, 'train2017'))) == [f'{i:012d}.jpg' for i in range(1, 10)]
    assert len(os.listdir(osp.join(coco, 'val2017'))) == 3
    assert sorted(os.listdir(osp.join(ade, 'annotations', 'validation'))) == [
        f'ADE_val_{i:08d}.png' for i in range(1, 4)
    ]
    for split, num in (('train', 9), ('val', 3)):
        assert sorted(os.listdir(osp.join(imagenet, split))) == list(SHAPES_CLASSES)
        assert sum(len(os.listdir(osp.join(imagenet, split, c))) for c in SHAPES_CLASSES) == num
        assert read_marker(imagenet)['counts'][split] == dict(images=num)
    marker = read_marker(coco)
    assert marker['task'] == 'det'
    assert marker['params']['img_size'] == [96, 128]
    for name in os.listdir(osp.join(coco, 'train2017')):
        assert Image.open(osp.join(coco, 'train2017', name)).size == (128, 96)  # W, H


def test_same_seed_same_bytes_other_seed_differs(shapes, tmp_path):
    again = generate_shapes(str(tmp_path / 'again'), **KWARGS)
    for task in shapes:
        assert read_tree(again[task]) == read_tree(shapes[task])
    other = generate_shapes(str(tmp_path / 'other'), **dict(KWARGS, seed=1))
    json_name = osp.join('annotations', 'instances_train2017.json')
    assert read_tree(other['det'])[json_name] != read_tree(shapes['det'])[json_name]
    for task, name in (('det', 'train2017/000000000001.jpg'), ('seg', 'images/training/ADE_train_00000001.jpg'),
                       ('cls', 'val/circle/circle_000000.JPEG')):
        assert np.abs(load_rgb(osp.join(other[task], name)) - load_rgb(osp.join(shapes[task], name))).max() > 50


def test_scenes_shared_and_prefix_stable(shapes, tmp_path):
    coco, ade = read_tree(shapes['det']), read_tree(shapes['seg'])
    for i in range(1, 10):
        assert coco[f'train2017/{i:012d}.jpg'] == ade[f'images/training/ADE_train_{i:08d}.jpg']
    smaller = read_tree(generate_shapes(str(tmp_path), **dict(KWARGS, num_train=4), tasks=('det', ))['det'])
    for i in range(1, 5):
        assert smaller[f'train2017/{i:012d}.jpg'] == coco[f'train2017/{i:012d}.jpg']


def test_size_range(tmp_path):
    det = generate_shapes(str(tmp_path), **dict(TINY, num_train=6), size_range=(64, 100), tasks=('det', ))['det']
    with open(osp.join(det, 'annotations', 'instances_train2017.json')) as f:
        images = json.load(f)['images']
    sizes = {(img['height'], img['width']) for img in images}
    assert len(sizes) > 1
    assert all(64 <= s <= 100 for hw in sizes for s in hw)
    for img in images:
        assert Image.open(osp.join(det, 'train2017', img['file_name'])).size == (img['width'], img['height'])


def test_idempotent_and_regenerates(tmp_path):
    roots = generate_shapes(str(tmp_path), **TINY)
    before = {task: mtimes(root) for task, root in roots.items()}
    assert generate_shapes(str(tmp_path), **TINY) == roots
    assert {task: mtimes(root) for task, root in roots.items()} == before

    det = generate_shapes(str(tmp_path), **dict(TINY, num_train=2), tasks=('det', ))['det']
    assert sorted(os.listdir(osp.join(det, 'train2017'))) == [f'{i:012d}.jpg' for i in (1, 2)]
    assert read_marker(det)['params']['num_train'] == 2
    assert mtimes(roots['seg']) == before['seg']
    assert sorted(os.listdir(tmp_path)) == ['ade', 'coco', 'imagenet']  # no .partial left


def test_incomplete_root_is_not_trusted(tmp_path):
    det = generate_shapes(str(tmp_path), **TINY, tasks=('det', ))['det']
    os.remove(osp.join(det, MARKER_FILE))  # as if interrupted before the marker, or someone else's data
    with pytest.raises(FileExistsError, match='no .complete'):
        generate_shapes(str(tmp_path), **TINY, tasks=('det', ))
    assert read_marker(det) is None and os.listdir(osp.join(det, 'train2017'))


def test_stale_partial_run_is_replaced(tmp_path):
    stale = tmp_path / 'coco.partial' / 'train2017'
    stale.mkdir(parents=True)
    (stale / '000000000099.jpg').write_bytes(b'not an image')
    det = generate_shapes(str(tmp_path), **TINY, tasks=('det', ))['det']
    assert sorted(os.listdir(tmp_path)) == ['coco']
    assert sorted(os.listdir(osp.join(det, 'train2017'))) == [f'{i:012d}.jpg' for i in (1, 2, 3)]


@pytest.mark.parametrize('kwargs', [dict(tasks=('det', 'panoptic')), dict(img_size=(32, 128)), dict(num_val=0),
                                    dict(seed=-1), dict(size_range=(100, 80)), dict(min_visible=0),
                                    dict(min_visible=1.5)])
def test_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_shapes(str(tmp_path), **{**TINY, **kwargs})
    assert not os.listdir(tmp_path)


def test_coco_annotations_match_masks_and_images(shapes):
    from pycocotools.coco import COCO

    coco_root, ade_root = shapes['det'], shapes['seg']
    coco = COCO(osp.join(coco_root, 'annotations', 'instances_train2017.json'))
    assert [(c['id'], c['name']) for c in coco.loadCats(coco.getCatIds())] == [(1, 'circle'), (2, 'square'),
                                                                               (3, 'triangle')]
    assert sorted(coco.getImgIds()) == list(range(1, 10))
    num_instances = 0
    for img in coco.loadImgs(coco.getImgIds()):
        h, w = img['height'], img['width']
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert 1 <= len(anns) <= 4
        label = np.asarray(Image.open(osp.join(ade_root, 'annotations', 'training',
                                               f'ADE_train_{img["id"]:08d}.png')))
        assert label.shape == (h, w)
        for ann in anns:
            assert ann['iscrowd'] == 0 and ann['area'] > 0 and ann['segmentation']
            x, y, bw, bh = ann['bbox']
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
            points = np.concatenate([np.reshape(p, (-1, 2)) for p in ann['segmentation']])
            assert points.min(0).tolist() == [x + 0.25, y + 0.25]  # a quarter pixel inside the box
            assert points.max(0).tolist() == [x + bw - 0.25, y + bh - 0.25]
            mask = coco.annToMask(ann).astype(bool)
            assert mask.sum() == ann['area']
            assert mask[y:y + bh, x:x + bw].sum() == ann['area']
            assert (label[mask] == ann['category_id'] + 1).all()  # the visible part, not the occluded one
        for cat in (1, 2, 3):  # visible masks partition the foreground of the label map exactly
            assert sum(a['area'] for a in anns if a['category_id'] == cat) == (label == cat + 1).sum()
        num_instances += len(anns)
    assert num_instances == len(coco.getAnnIds()) > 9


def test_images_match_labels(shapes):
    """Shape colours stand out from the background: thresholding the colour finds the labels (up to JPEG at edges)."""
    ade = shapes['seg']
    for i in range(1, 10):
        image = load_rgb(osp.join(ade, 'images', 'training', f'ADE_train_{i:08d}.jpg'))
        label = np.asarray(Image.open(osp.join(ade, 'annotations', 'training', f'ADE_train_{i:08d}.png')))
        assert label.dtype == np.uint8 and set(np.unique(label)) <= {1, 2, 3, 4} and 1 in label
        shape = (label > 1).astype(np.uint8)
        inner = cv2.erode(shape, np.ones((3, 3), np.uint8)).astype(bool)
        outer = ~cv2.dilate(shape, np.ones((3, 3), np.uint8)).astype(bool)
        fg = foreground_by_colour(image)
        assert not (fg & outer).any() and (fg | ~inner).all()
        assert iou(fg, label > 1) > 0.97


def test_instances_have_distinct_colours(shapes):
    from pycocotools.coco import COCO

    coco = COCO(osp.join(shapes['det'], 'annotations', 'instances_train2017.json'))
    for img in coco.loadImgs(coco.getImgIds()):
        image = load_rgb(osp.join(shapes['det'], 'train2017', img['file_name']))
        colours = [np.median(image[coco.annToMask(a).astype(bool)], axis=0) for a in coco.imgToAnns[img['id']]]
        for i, a in enumerate(colours):
            for b in colours[i + 1:]:
                assert np.linalg.norm(a - b) > 40


def test_render_scene_contrast():
    for seed in range(200):
        rng = np.random.default_rng(seed)
        scene = render_scene(rng, 64, 80, rng.integers(0, len(SHAPES_CLASSES), 4))
        assert 1 <= len(scene.labels) <= 4 and scene.instance_map.max() == len(scene.labels)
        image = scene.image.astype(np.float64)
        background = image[scene.instance_map == 0]
        colours = [image[scene.instance_map == k][0] for k in range(1, len(scene.labels) + 1)]
        for i, colour in enumerate(colours):
            assert np.linalg.norm(background - colour, axis=1).min() > 60
            assert all(np.linalg.norm(colour - other) > 40 for other in colours[i + 1:])


def _occluded_instances(min_visible):
    """How many instances of 100 scenes are not whole shapes (a visible mask well below its convex hull)."""
    count = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        scene = render_scene(rng, 80, 80, rng.integers(0, len(SHAPES_CLASSES), 4), (0.3, 0.7), min_visible)
        for k in range(1, len(scene.labels) + 1):
            mask = (scene.instance_map == k).astype(np.uint8)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            hull = cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
            count += len(contours) > 1 or mask.sum() < 0.9 * hull
    return count


def test_min_visible_controls_occlusion():
    assert _occluded_instances(1.0) == 0  # no shape may hide any part of another: every instance is whole
    assert _occluded_instances(0.3) > 10


def test_cls_images_hold_one_shape(shapes):
    imagenet = shapes['cls']
    for split in ('train', 'val'):
        for name in SHAPES_CLASSES:
            for file in os.listdir(osp.join(imagenet, split, name)):
                fg = foreground_by_colour(load_rgb(osp.join(imagenet, split, name, file))).astype(np.uint8)
                _, _, stats, _ = cv2.connectedComponentsWithStats(fg)
                assert (stats[1:, cv2.CC_STAT_AREA] > 20).sum() == 1
                assert fg.mean() > 0.04


def test_mmdet_coco_dataset(shapes):
    from mmdet.datasets import CocoDataset

    with open(osp.join(shapes['det'], 'annotations', 'instances_train2017.json')) as f:
        raw = json.load(f)
    dataset = CocoDataset(
        data_root=shapes['det'],
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=SHAPES_CLASSES),
        pipeline=[])
    dataset.full_init()
    assert len(dataset) == 9
    instances = [inst for i in range(len(dataset)) for inst in dataset.get_data_info(i)['instances']]
    assert len(instances) == len(raw['annotations'])
    assert [inst['bbox_label'] for inst in instances] == [a['category_id'] - 1 for a in raw['annotations']]
    assert all(inst['ignore_flag'] == 0 and inst['mask'] for inst in instances)
    info = dataset.get_data_info(0)
    assert osp.isfile(info['img_path']) and (info['height'], info['width']) == (96, 128)


def test_mmseg_ade20k_dataset(shapes):
    from mmseg.datasets import ADE20KDataset, BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations

    ade = shapes['seg']
    # ADE20KDataset's own metainfo (150 classes) reads the layout; its label map refuses other class names, so the
    # shapes classes go through BaseSegDataset with ADE20K's suffixes.
    ade_dataset = ADE20KDataset(
        data_root=ade, data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'))
    assert len(ade_dataset) == 3
    dataset = BaseSegDataset(
        data_root=ade,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=dict(classes=SHAPES_SEG_CLASSES, palette=SHAPES_SEG_PALETTE))
    assert len(dataset) == 9 and dataset.metainfo['classes'] == SHAPES_SEG_CLASSES
    seen = set()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        assert osp.basename(info['seg_map_path']) == stem + '.png' and osp.isfile(info['seg_map_path'])
        seg = LoadAnnotations()(dict(info))['gt_seg_map']  # reduce_zero_label from the dataset
        assert set(np.unique(seg)) <= {0, 1, 2, 3}
        seen |= set(np.unique(seg).tolist())
    assert seen == {0, 1, 2, 3}


def test_mmpretrain_imagenet(shapes):
    from mmpretrain.datasets import CustomDataset, ImageNet

    root = shapes['cls']
    dataset = ImageNet(
        data_root=root, split='val', ann_file='meta/val.txt', data_prefix='val', metainfo=dict(classes=SHAPES_CLASSES))
    assert dataset.CLASSES == SHAPES_CLASSES
    assert [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))] == [0, 1, 2]
    listed = CustomDataset(data_root=root, ann_file='meta/train.txt', data_prefix='train')
    scanned = CustomDataset(data_root=root, data_prefix='train')  # class folders, sorted names
    assert scanned.CLASSES == SHAPES_CLASSES
    pairs = {(info['img_path'], int(info['gt_label'])) for info in scanned.load_data_list()}
    assert {(info['img_path'], int(info['gt_label'])) for info in listed.load_data_list()} == pairs
    assert len(pairs) == 9
    for path, label in pairs:
        assert osp.basename(osp.dirname(path)) == SHAPES_CLASSES[label]
