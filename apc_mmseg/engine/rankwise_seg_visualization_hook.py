import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from ..visualization import prediction_panel, save_rgb


@HOOKS.register_module()
class RankwiseSegVisualizationHook(SegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` whose pictures are written by every rank.

    mmseg's visualizer draws and saves on rank 0 only (``master_only``), so
    with several ranks its hook keeps only rank 0's share of the test images.
    With ``out_dir`` set, each rank writes its own images' pictures there
    (``<out_dir>/vis_image/<mode>_<image name>.png``: the image, the
    prediction and, when known, the ground truth overlaid in the dataset's
    palette, at least 384 pixels high, over a legend of the classes shown);
    without it, or with ``show``, this is mmseg's hook.
    ``tools/test.py --show-dir`` uses it.
    """

    def __init__(self, *args, out_dir: Optional[str] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.out_dir = out_dir

    def _after_iter(self, runner, batch_idx: int, data_batch: dict,
                    outputs: Sequence[SegDataSample], mode: str = 'val') -> None:
        if self.out_dir is None or self.show:
            return super()._after_iter(runner, batch_idx, data_batch, outputs, mode)
        if self.draw is False or mode == 'train' or \
                not self.every_n_inner_iters(batch_idx, self.interval):
            return
        folder = osp.join(self.out_dir, 'vis_image')
        os.makedirs(folder, exist_ok=True)
        # the visualizer's dataset_meta is set on rank 0 only
        meta = getattr(runner, f'{mode}_dataloader').dataset.metainfo
        names, palette = meta['classes'], meta['palette']
        for output in outputs:
            img = mmcv.imfrombytes(fileio.get(output.img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            pred = output.pred_sem_seg.data[0].cpu().numpy()
            gt = output.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in output else None
            name = f'{mode}_{osp.splitext(osp.basename(output.img_path))[0]}.png'
            save_rgb(osp.join(folder, name), prediction_panel(img, pred, gt, names, palette))
