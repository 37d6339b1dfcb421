"""The registered names the configs use exist after `import apc_mmseg`."""
from mmseg.registry import (
    DATASETS,
    HOOKS,
    MODELS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    PARAM_SCHEDULERS,
    RUNNERS,
    TRANSFORMS,
)

import apc_mmseg  # noqa: F401


def test_registry_names():
    for name in ('HVBiLSTM', 'AKPHead', 'PatchContrastLoss', 'APCSegmentor',
                 'AdaptiveKPooling', 'FixedKPooling', 'GlobalMaxPooling', 'GlobalAvgPooling'):
        assert MODELS.get(name) is not None, name
    for name in ('WeakVOCDataset', 'WeakCOCODataset', 'WeakSegDataset'):
        assert DATASETS.get(name) is not None, name
    for name in ('LoadImageLevelLabels', 'PackWeakSegInputs'):
        assert TRANSFORMS.get(name) is not None, name
    assert PARAM_SCHEDULERS.get('UnfreezeStepLR') is not None
    for name in ('RNGStateHook', 'BatchImageIdsHook', 'LogVarsToHostHook',
                 'RankwiseSegVisualizationHook'):
        assert HOOKS.get(name) is not None, name
    for name in ('GuardedOptimWrapper', 'GuardedAmpOptimWrapper', 'GuardedBF16OptimWrapper'):
        assert OPTIM_WRAPPERS.get(name) is not None, name
    assert RUNNERS.get('APCRunner') is not None
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('MergedGroupsOptimWrapperConstructor') is not None
    # mmseg's own APCHead (APCNet) is untouched.
    assert MODELS.get('APCHead').__module__.startswith('mmseg.')


def test_public_pooling_interface():
    import torch

    from apc_mmseg.models import AdaptiveKPooling
    pool = AdaptiveKPooling(k_max=6, delta=0.2, criterion='gap')
    scores = torch.rand(2, 3, 4, 4)
    assert pool(scores).shape == (2, 3)
    k = pool.select_k(scores)
    assert k.dtype == torch.long and k.shape == (2, 3)
