"""A hook for the distributed test in ``test_hardening.py``; configs import it with
``custom_imports=dict(imports=['tests.hardening_hooks'])`` (the repository root is on ``PYTHONPATH`` under
``tools/dist_train.sh``)."""
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """Every rank saves ``rank{i}_state.pth`` in the work dir: its world size, the images it trained on, and its
    model's state dict before and after training."""

    def before_train(self, runner) -> None:
        self.images = []
        self.initial = {k: v.clone() for k, v in self._model(runner).state_dict().items()}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self.images += [sample.img_path for sample in data_batch['data_samples']]

    def after_train(self, runner) -> None:
        state = dict(rank=runner.rank, world_size=runner.world_size, images=self.images, initial=self.initial,
                     final=self._model(runner).state_dict())
        torch.save(state, osp.join(runner.work_dir, f'rank{runner.rank}_state.pth'))

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model
