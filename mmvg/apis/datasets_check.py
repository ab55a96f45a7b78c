"""A missing dataset is reported once, before anything is built, with where it was looked for and what to do."""
import os.path as osp
from typing import Iterable, Iterator, Tuple

from mmengine.config import Config

DATA_DOCS = 'docs/datasets.md'


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a config's data set is not on disk."""


def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Datasets inside wrappers (RepeatDataset, ClassBalancedDataset, ConcatDataset, ...)."""
    if 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'])
    elif 'datasets' in dataset:
        for d in dataset['datasets']:
            yield from _leaf_datasets(d)
    else:
        yield dataset


def _required_paths(dataset: dict) -> Iterator[Tuple[str, str]]:
    root = dataset.get('data_root') or ''
    ann_file = dataset.get('ann_file') or ''
    if root:
        yield 'data_root', root
    if ann_file:
        yield 'ann_file', ann_file if osp.isabs(ann_file) or not root else osp.join(root, ann_file)


def check_datasets(cfg: Config, config_path: str,
                   splits: Iterable[str] = ('train_dataloader', 'val_dataloader', 'test_dataloader')) -> None:
    """Raise :class:`DatasetNotFoundError` naming the first missing data root or annotation file of ``splits``."""
    for split in splits:
        loader = cfg.get(split)
        if not loader or 'dataset' not in loader:
            continue
        for dataset in _leaf_datasets(loader['dataset']):
            for what, path in _required_paths(dataset):
                if path and not osp.exists(path) and '://' not in path:
                    raise DatasetNotFoundError(
                        f'Dataset not found: {split} uses {dataset.get("type", "a dataset")} with {what} '
                        f'{path!r}, which does not exist (looked in {osp.abspath(path)}).\n'
                        f'  How to get COCO, ADE20K and ImageNet and where to put them: {DATA_DOCS}.\n'
                        f'  To run this model without data, train it on generated shapes instead:\n'
                        f'    python tools/train.py {config_path} --demo')
