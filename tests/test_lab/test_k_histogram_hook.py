"""KHistogramHook counts the K that AKP chose for each tagged foreground class."""
import json
import types

import torch

from apc_lab.k_histogram_hook import KHistogramHook
from apc_mmseg.models import AdaptiveKPooling, GlobalMaxPooling


def runner_with(pooling, work_dir):
    model = types.SimpleNamespace(weak_head=types.SimpleNamespace(pooling=pooling))
    return types.SimpleNamespace(model=model, work_dir=str(work_dir))


def test_counts_k_of_tagged_classes_only(tmp_path):
    pooling = AdaptiveKPooling(k_max=3, delta=0.2)
    runner = runner_with(pooling, tmp_path)
    hook = KHistogramHook()
    hook.before_train(runner)
    # one image, background + 2 classes, 4 patches each (sorted here by hand):
    # class 1: 0.9, 0.8, 0.75, 0.1 -> gaps 0, .1, .15, .8 < 0.2 for three: K = 3
    # class 2: 0.9, 0.5, ... -> only the maximum: K = 1 (not tagged: not counted)
    scores = torch.tensor([[[0.5, 0.5, 0.5, 0.5], [0.9, 0.8, 0.75, 0.1],
                            [0.9, 0.5, 0.4, 0.3]]]).reshape(1, 3, 2, 2)
    sample = types.SimpleNamespace(gt_image_labels=torch.tensor([1., 1., 0.]))
    hook.before_train_iter(runner, 0, dict(data_samples=[sample]))
    pooling.train()
    pooling(scores)
    pooling.eval()
    pooling(scores)  # validation: not counted
    sample.gt_image_labels = torch.tensor([1., 1., 1.])
    hook.before_train_iter(runner, 1, dict(data_samples=[sample]))
    pooling.train()
    pooling(scores)
    hook.after_train(runner)
    written = json.load(open(tmp_path / 'k_histogram.json'))
    assert written == dict(k_max=3, counts=[1, 0, 2])  # class 1 twice at K=3, class 2 once at 1


def test_global_max_pooling_writes_nothing(tmp_path):
    runner = runner_with(GlobalMaxPooling(), tmp_path)
    hook = KHistogramHook()
    hook.before_train(runner)
    hook.after_train(runner)
    assert not (tmp_path / 'k_histogram.json').exists()
