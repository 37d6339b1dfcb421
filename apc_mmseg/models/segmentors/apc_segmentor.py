from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ...engine.guarded_optim_wrapper import BATCH_IDS_KEY
from ...postprocessing import CRF_DEFAULTS, dense_crf_batch


def stack_image_labels(data_samples: Sequence[SegDataSample], num_classes: int) -> Tensor:
    """``gt_image_labels`` of every sample as ``[B, C+1]`` (float)."""
    labels = []
    for ds in data_samples:
        if 'gt_image_labels' not in ds:
            raise KeyError(f"sample {ds.metainfo.get('img_path', '?')} has no "
                           "gt_image_labels: add LoadImageLevelLabels to the pipeline")
        labels.append(ds.gt_image_labels)
    labels = torch.stack(labels).float()
    if labels.shape[1] != num_classes:
        raise ValueError(f"{data_samples[0].metainfo.get('img_path', 'batch')}: image labels "
                         f'have {labels.shape[1]} classes but the model has {num_classes} '
                         '(background included): do the config and the dataset agree?')
    return labels


@MODELS.register_module()
class APCSegmentor(EncoderDecoder):
    """APC: one-stage weakly supervised segmentation (APC Fig. 2).

    Training (``loss``): backbone levels -> neck (HV-BiLSTM refines the last
    level into Z) -> weak head (patch probabilities P, L_cls by adaptive-K
    pooling, detached patch-to-pixel pseudo labels) -> patch contrast on
    (Z, P) (L_pcl) -> decode head trained on the pseudo labels (L_seg).
    Image-level labels come from each sample's ``gt_image_labels``
    ``[C+1]``; no pixel mask is read.

    Inference (``predict``), chosen by ``test_cfg``:

    - ``output``: ``'decode'`` (decode head, needs no labels) or ``'patch'``
      (the weak head's P after class-merge; ``use_gt_labels=True`` keeps only
      the classes of ``gt_image_labels``, as for pseudo masks).
    - ``size``: the model resizes its input to this (h, w) (None: as given)
      and its output back; ``scales`` multiply it; ``flip`` adds the mirrored
      image. Probabilities are averaged.
    - ``crf``: None, or a dict of ``dense_crf`` options (``True`` for
      METHOD's defaults, plus ``workers``), applied at the original size on
      the present classes (those predicted or, with labels, those labelled).

    ``seg_logits`` of the results hold class probabilities.

    Args:
        weak_head (dict): ``AKPHead`` config.
        pcl_loss (dict, optional): ``PatchContrastLoss`` config; None
            disables L_pcl (the Table 7 ablation; ``loss_pcl`` stays 0).
        Other args as mmseg's ``EncoderDecoder``.
    """

    def __init__(self, backbone: dict, decode_head: dict, weak_head: dict,
                 pcl_loss: Optional[dict] = dict(type='PatchContrastLoss'),
                 neck: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor=None,
                 pretrained=None, init_cfg=None):
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        self.weak_head = MODELS.build(weak_head)
        self.pcl_loss = MODELS.build(pcl_loss) if pcl_loss else None
        if self.weak_head.num_classes != self.num_classes:
            raise ValueError(
                f'weak_head.num_classes={self.weak_head.num_classes} differs from '
                f'decode_head.num_classes={self.num_classes}')
        self._register_load_state_dict_pre_hook(self._check_checkpoint_fits)

    def _check_checkpoint_fits(self, state_dict, prefix, *args, **kwargs) -> None:
        """Refuse weights of another architecture instead of half-loading them.

        mmengine loads checkpoints non-strictly and only logs what does not
        fit. Heads of another class count (fine-tuning) are fine; a
        checkpoint in which most of this model's tensors are missing or of
        another shape is an error that names the file.
        """
        from ...utils.checkpoint import LAST_LOADED
        own = {prefix + k: v.shape for k, v in self.state_dict().items()}
        fits = sum(1 for k, shape in own.items()
                   if k in state_dict and tuple(state_dict[k].shape) == tuple(shape))
        if fits < len(own) / 2:
            missing = [k for k in own if k not in state_dict][:3]
            raise ValueError(
                f"{LAST_LOADED['path'] or 'checkpoint'}: not weights of this model "
                f'({fits} of {len(own)} tensors fit; e.g. missing {missing}). Is it a '
                'checkpoint of another config?')

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> dict:
        # Which images this step sees, for the non-finite-loss report.
        MessageHub.get_current_instance().update_info(
            BATCH_IDS_KEY, [ds.metainfo.get('img_id', ds.metainfo.get('img_path'))
                            for ds in data_samples])
        labels = stack_image_labels(data_samples, self.num_classes)
        feats = self.extract_feat(inputs)
        probs = self.weak_head(feats)
        losses = self.weak_head.loss(probs, labels)
        losses['loss_pcl'] = self._pcl(feats[self.weak_head.in_index], probs, labels)
        pseudo = self.weak_head.pseudo_labels(
            probs, labels, inputs.shape[2:],
            [ds.metainfo.get('img_shape', inputs.shape[2:]) for ds in data_samples])
        losses.update(self._decode_loss(feats, pseudo, data_samples))
        return losses

    def _decode_loss(self, feats, pseudo: Tensor, data_samples) -> dict:
        """L_seg and ``acc_seg`` of the decode head against ``pseudo [B, H, W]``.

        With mmseg's softmax ``CrossEntropyLoss`` only, the logits are
        upsampled in channels-last memory and the loss modules get them as
        ``[B*H*W, C+1]`` rows: the same values as mmseg's ``loss_by_feat``,
        without its reductions across a strided class dimension. Anything
        else goes through ``decode_head.loss``.
        """
        head = self.decode_head
        losses_decode = self._rows_losses()
        if losses_decode is None:
            return head.loss(feats, self._with_pseudo_masks(data_samples, pseudo),
                             self.train_cfg)
        logits = F.interpolate(head(feats).contiguous(memory_format=torch.channels_last),
                               pseudo.shape[1:], mode='bilinear',
                               align_corners=head.align_corners)
        rows = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
        labels = pseudo.reshape(-1)
        losses = {}
        for loss in losses_decode:
            value = loss(rows, labels, ignore_index=head.ignore_index)
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        losses['acc_seg'] = self._accuracy(rows, labels, head.ignore_index)
        return losses

    @staticmethod
    @torch.no_grad()
    def _accuracy(rows: Tensor, labels: Tensor, ignore_index: int) -> Tensor:
        """Percentage of non-ignored pixels whose argmax is their label.

        mmseg's ``accuracy`` gives the same figure but takes ``topk`` of the
        rows (3x slower here) and indexes with boolean masks (two host syncs).
        """
        valid = labels != ignore_index
        correct = (rows.argmax(dim=1) == labels) & valid
        return correct.sum() * 100.0 / valid.sum().clamp_min(1)

    def _rows_losses(self) -> Optional[List[nn.Module]]:
        """The decode head's losses if all take pixel rows, else None.

        Excluded: a pixel sampler (it needs the map), sigmoid or mask CE, and
        class weights (mmseg's CE loops in Python over the label's first
        dimension to weigh them, which for rows is every pixel).
        """
        head = self.decode_head
        losses = list(head.loss_decode) if isinstance(head.loss_decode, nn.ModuleList) \
            else [head.loss_decode]
        rows_ok = all(isinstance(loss, CrossEntropyLoss) and not loss.use_sigmoid
                      and not loss.use_mask and loss.class_weight is None for loss in losses)
        return losses if rows_ok and head.sampler is None else None

    def _pcl(self, z: Tensor, probs: Tensor, labels: Tensor) -> Tensor:
        if self.pcl_loss is None:
            return z.new_zeros(())  # same loss keys on every run and rank
        return self.pcl_loss(z, probs, labels)

    @staticmethod
    def _with_pseudo_masks(data_samples, pseudo: Tensor) -> List[SegDataSample]:
        out = []
        for ds, mask in zip(data_samples, pseudo):
            new = SegDataSample(metainfo=ds.metainfo)
            new.gt_sem_seg = PixelData(data=mask[None])
            out.append(new)
        return out

    # ----------------------------------------------------------- inference
    def predict(self, inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        if data_samples is not None:
            metas = [ds.metainfo for ds in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                          pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
                     ] * inputs.shape[0]
        labels = None
        if self.test_cfg.get('output', 'decode') == 'patch' and \
                self.test_cfg.get('use_gt_labels', True):
            if data_samples is None:
                raise ValueError("test_cfg output='patch' with use_gt_labels needs "
                                 'data samples carrying gt_image_labels')
            labels = stack_image_labels(data_samples, self.num_classes).to(inputs.device)
        probs = self.inference(inputs, metas, labels)
        results = self.postprocess_result(probs, data_samples)
        if self.test_cfg.get('crf'):
            self._refine_with_crf(inputs, results, labels)
        return results

    def inference(self, inputs: Tensor, batch_img_metas: List[dict],
                  image_labels: Optional[Tensor] = None) -> Tensor:
        """Class probabilities ``[B, C+1, H, W]`` at the input's size."""
        H, W = inputs.shape[2:]
        size = self.test_cfg.get('size', None) or (H, W)
        scales = self.test_cfg.get('scales', (1.0,))
        flips = (False, True) if self.test_cfg.get('flip', False) else (False,)
        total = 0.
        for scale in scales:
            scaled = (int(round(size[0] * scale)), int(round(size[1] * scale)))
            x = inputs if scaled == (H, W) else F.interpolate(
                inputs, scaled, mode='bilinear', align_corners=False)
            for flip in flips:
                probs = self._probs(x.flip(-1) if flip else x, image_labels)
                probs = probs.flip(-1) if flip else probs
                total = total + F.interpolate(probs, (H, W), mode='bilinear',
                                              align_corners=False)
        return total / (len(scales) * len(flips))

    def _probs(self, inputs: Tensor, image_labels: Optional[Tensor]) -> Tensor:
        feats = self.extract_feat(inputs)
        if self.test_cfg.get('output', 'decode') == 'patch':
            return self.weak_head.class_merge(self.weak_head(feats),
                                              image_labels).clamp_min(0)
        return self.decode_head(feats).softmax(dim=1)

    def _refine_with_crf(self, inputs: Tensor, results: List[SegDataSample],
                         labels: Optional[Tensor]) -> None:
        cfg = dict(CRF_DEFAULTS)
        if isinstance(self.test_cfg.crf, dict):
            cfg.update(self.test_cfg.crf)
        workers = cfg.pop('workers', 1)
        images, probs, classes = [], [], []
        for i, res in enumerate(results):
            p = res.seg_logits.data.float()
            if self.test_cfg.get('output', 'decode') == 'patch':
                p = self._masked_softmax(p, None if labels is None else labels[i])
            images.append(self._rgb_image(inputs[i], res.metainfo, p.shape[1:]))
            probs.append(p.cpu().numpy())
            present = (labels[i] > 0).nonzero()[:, 0] if labels is not None \
                else p.argmax(0).unique()
            classes.append(present.tolist())
        refined = dense_crf_batch(images, probs, classes, workers=workers, **cfg)
        for res, q in zip(results, refined):
            q = torch.from_numpy(q).to(res.seg_logits.data.device)
            res.seg_logits = PixelData(data=q)
            res.pred_sem_seg = PixelData(data=q.argmax(0, keepdim=True))

    @staticmethod
    def _masked_softmax(scores: Tensor, labels: Optional[Tensor]) -> Tensor:
        """Softmax of class-merged scores over the labelled classes (METHOD §4)."""
        if labels is not None:
            scores = scores.masked_fill(labels[:, None, None] <= 0, float('-inf'))
        return scores.softmax(0)

    def _rgb_image(self, img: Tensor, meta: dict, size) -> np.ndarray:
        """Undo the preprocessor's normalisation and padding: uint8 RGB at ``size``."""
        pre = self.data_preprocessor
        img = img * pre.std + pre.mean if getattr(pre, '_enable_normalize', False) else img
        h, w = meta.get('img_shape', img.shape[1:])
        img = F.interpolate(img[None, :, :h, :w].float(), tuple(size), mode='bilinear',
                            align_corners=False)[0]
        if not getattr(pre, 'channel_conversion', False):
            img = img.flip(0)  # the preprocessor kept OpenCV's BGR order
        return img.clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()
