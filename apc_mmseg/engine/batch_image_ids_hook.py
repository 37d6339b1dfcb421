from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmseg.registry import HOOKS

# Message-hub key of the current batch's image ids (read by the non-finite guard).
BATCH_IDS_KEY = 'apc/batch_img_ids'


def record_batch_image_ids(data_batch: Optional[dict]) -> None:
    """Put the ids (or paths) of ``data_batch``'s images into the message hub."""
    samples = (data_batch or {}).get('data_samples') or []
    ids = [ds.metainfo.get('img_id', ds.metainfo.get('img_path')) for ds in samples]
    MessageHub.get_current_instance().update_info(BATCH_IDS_KEY, ids)


@HOOKS.register_module()
class BatchImageIdsHook(Hook):
    """Record which images each training step sees, so that a non-finite loss
    or gradient is reported with the images that caused it
    (``GuardedOptimWrapper``)."""

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        record_batch_image_ids(data_batch)
