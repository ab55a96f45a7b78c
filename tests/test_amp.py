"""``--amp`` on a CPU: bf16 autocast with fp32 islands for mmcv's compiled ops and fp32 head outputs."""
import math

import pytest
import torch
import torch.nn as nn
from mmcv.ops import RoIAlign, nms
from mmengine.runner import Runner

from mmvg.apis import enable_amp, prepare_cpu_autocast

from .test_demo_and_tools import demo_cfg, in_tmp  # noqa: F401


class _BoxHead(nn.Module):
    """A stand-in with the name pattern of mmdet's heads: a Linear whose output autocast makes bf16."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x), [self.fc(x) * 2]


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.roi = RoIAlign(2, spatial_scale=0.5, sampling_ratio=2, aligned=True)
        self.bbox_head = _BoxHead()

    def forward(self, x, rois):
        feats = self.conv(x)
        pooled = self.roi(feats, rois)  # N, 8, 2, 2
        return feats, pooled, self.bbox_head(pooled.mean((2, 3)))


_BoxHead.__name__ = 'BoxHead'


def _inputs():
    torch.manual_seed(0)
    rois = torch.tensor([[0, 1., 2., 9., 11.], [1, 0., 0., 15., 15.], [0, 4.5, 3.25, 7., 14.]])
    return torch.rand(2, 3, 16, 16), rois


def test_mmcv_ops_have_no_cpu_bf16_kernels():
    """Why the islands exist: without them autocast hands bf16 maps to mmcv's CPU kernels, which refuse them."""
    x, rois = _inputs()
    net = _Net()
    with torch.autocast('cpu', dtype=torch.bfloat16), pytest.raises(RuntimeError):
        net(x, rois)
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], dtype=torch.bfloat16)
    with pytest.raises(RuntimeError):
        nms(boxes, torch.tensor([0.9, 0.8], dtype=torch.bfloat16), 0.5)


def test_prepared_model_runs_mmcv_ops_in_fp32_and_returns_fp32_head_outputs():
    x, rois = _inputs()
    net = prepare_cpu_autocast(_Net())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats, pooled, (boxes, [boxes2]) = net(x, rois)
    assert feats.dtype == torch.bfloat16  # the conv ran in bf16
    assert pooled.dtype == torch.bfloat16  # the island returns its input's dtype
    assert boxes.dtype == boxes2.dtype == torch.float32  # head outputs, nested ones included
    # the island computed RoIAlign in fp32 on the bf16 map: same as mmcv on that map cast to fp32
    reference = RoIAlign(2, spatial_scale=0.5, sampling_ratio=2, aligned=True)(feats.float(), rois)
    torch.testing.assert_close(pooled.float(), reference, rtol=1e-2, atol=1e-2)
    assert pooled.float().abs().sum() > 0
    # gradients flow through the island to the bf16 conv
    (boxes.sum() + boxes2.sum()).backward()
    assert net.conv.weight.grad is not None and net.conv.weight.grad.abs().sum() > 0


def test_prepared_model_is_unchanged_outside_autocast_and_prepared_once():
    x, rois = _inputs()
    net = _Net()
    with torch.no_grad():
        before = net(x, rois)
    forward = net.roi.forward
    assert prepare_cpu_autocast(net) is net
    assert prepare_cpu_autocast(net) is net and net.roi.forward is not forward
    assert net.roi.forward.__wrapped__ == forward  # wrapped once, not twice
    assert len(net.bbox_head._forward_hooks) == 1
    with torch.no_grad():
        after = net(x, rois)
    for a, b in zip(before[:2], after[:2]):
        assert a.dtype == b.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(before[2][0], after[2][0], rtol=0, atol=0)


@pytest.mark.slow
def test_amp_mask_rcnn_trains_in_bf16_on_cpu(in_tmp):  # noqa: F811
    """``tools/train.py configs/coc/mask_rcnn_coc_small.py --demo --amp``: the RPN's NMS, RoIAlign and the heads
    work under bf16 autocast, the backbone computes in bf16, and validation stays fp32."""
    cfg = demo_cfg('configs/coc/mask_rcnn_coc_small.py', in_tmp)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 3
    enable_amp(cfg)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    seen = {'backbone': set(), 'rpn': set(), 'val_backbone': set()}

    def record(name):
        return lambda mod, inp, out: seen[name if mod.training else 'val_' + name].add(out.dtype)

    model.backbone.stem.register_forward_hook(record('backbone'))
    predict_by_feat = model.rpn_head.predict_by_feat

    def record_rpn(cls_scores, *args, **kwargs):  # what goes to box decoding and NMS
        seen['rpn'].add(cls_scores[0].dtype)
        return predict_by_feat(cls_scores, *args, **kwargs)

    model.rpn_head.predict_by_feat = record_rpn
    runner.train()
    assert type(runner.optim_wrapper).__name__ == 'AutocastOptimWrapper'
    assert seen['backbone'] == {torch.bfloat16} and seen['val_backbone'] == {torch.float32}
    assert seen['rpn'] == {torch.float32}
    losses = runner.message_hub.get_scalar('train/loss').data[0].tolist()
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert 0 <= runner.message_hub.get_scalar('val/coco/bbox_mAP').current() <= 1
