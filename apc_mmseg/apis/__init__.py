"""What the command-line tools do, as functions: inference maps, DenseCRF
refinement jobs, pseudo masks (the demo's are in ``apc_lab``)."""
from .inference import crf_job, decode_probs, patch_scores
from .pseudo_masks import build_label_dataset, make_pseudo_masks

__all__ = ['build_label_dataset', 'crf_job', 'decode_probs', 'make_pseudo_masks',
           'patch_scores']
