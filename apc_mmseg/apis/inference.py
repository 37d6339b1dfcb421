"""Class probabilities and patch scores of an APC model for one image.

mmseg's ``inference_model`` gives what ``test_cfg`` asks for (the decode
head's segmentation by default). These give the two kinds of maps APC has,
whatever ``test_cfg.output`` says, without changing the model's settings:
the decode head's class probabilities, and the patch classifier's
class-merged scores (APC Fig. 5), each ``[C+1, H, W]`` at the image's size.
``crf_job`` refines a prediction with DenseCRF outside the model.
"""
from typing import Optional, Union

import numpy as np
import torch
from mmseg.apis.utils import _preprare_data  # mmseg's own, as inference_model uses
from mmseg.structures import SegDataSample
from torch import Tensor

from ..evaluation.crf_iou_metric import present_probs
from ..postprocessing import crf_settings


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


def crf_job(result: SegDataSample, image: str, options: Optional[dict] = None) -> tuple:
    """The arguments of ``crf_label_map`` (a ``CRFPool`` job) that refine
    ``result``'s prediction with DenseCRF: the softmax of its ``seg_logits``
    over the classes that win a pixel, the image file, ViT-PCM's settings
    updated by ``options``. The job returns the refined ``[H, W]`` class ids."""
    settings = crf_settings(options, 'crf options')
    probs, classes = present_probs(result.seg_logits.data)
    return image, probs, classes.tolist(), settings
