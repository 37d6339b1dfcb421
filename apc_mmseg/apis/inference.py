"""Class probabilities and patch scores of an APC model for one image.

mmseg's ``inference_model`` gives what ``test_cfg`` asks for (the decode
head's segmentation by default). These give the two kinds of maps APC has,
whatever ``test_cfg.output`` says, without changing the model's settings:
the decode head's class probabilities, and the patch classifier's
class-merged scores (APC Fig. 5), each ``[C+1, H, W]`` at the image's size.
"""
from typing import Optional, Union

import numpy as np
import torch
from mmseg.apis.utils import _preprare_data  # mmseg's own, as inference_model uses
from torch import Tensor


def _inputs(model, img: Union[str, np.ndarray]):
    """The test pipeline and the data preprocessor applied to one image."""
    data, _ = _preprare_data(img, model)
    data = model.data_preprocessor(data, False)
    return data['inputs'], data['data_samples']


@torch.no_grad()
def decode_probs(model, img: Union[str, np.ndarray]) -> Tensor:
    """The decode head's class probabilities ``[C+1, H, W]`` (no labels)."""
    inputs, samples = _inputs(model, img)
    probs = model.decode_probs(inputs)
    return model.postprocess_result(probs, samples)[0].seg_logits.data


@torch.no_grad()
def patch_scores(model, img: Union[str, np.ndarray],
                 image_labels: Optional[Tensor] = None) -> Tensor:
    """The patch classifier's class-merged scores ``[C+1, H, W]`` in [0, 1]:
    each class scaled to a maximum of 1; with multi-hot ``image_labels
    [C+1]`` the classes outside them score 0 (as for pseudo masks)."""
    inputs, samples = _inputs(model, img)
    labels = None if image_labels is None else image_labels[None].to(inputs.device).float()
    scores = model.patch_scores(inputs, labels)
    return model.postprocess_result(scores, samples)[0].seg_logits.data
