from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ...utils.checkpoint import CHECKPOINT_SOURCE_KEY
from ...utils.sample_keys import IMAGE_SCORES_KEY, PSEUDO_MASK_KEY


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
      image. The maps are averaged over these views inside one ``predict``,
      the pseudo mask and image scores included, which mmseg's
      ``SegTTAModel`` (``--tta``, also supported) cannot do: it merges
      ``seg_logits`` only.
    - ``mode``: ``'whole'`` only (any other is refused, as is an unknown key).

    ``seg_logits`` of the results is the log of the map ``output`` names:
    ``'decode'``, the decode head's class probabilities; ``'patch'``, the
    class-merged patch scores (each class scaled to a maximum of 1, so
    ``softmax(seg_logits)`` is the scores normalised over classes, what
    mmseg's consumers take as probabilities). ``decode_probs`` and
    ``patch_scores`` give either map, not logged, whatever ``output`` says.
    The model does no post-processing: DenseCRF runs in ``CRFIoUMetric``, the
    pseudo masks and ``tools/infer.py --crf``.

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
        if self.pcl_loss is not None and self.pcl_loss.loss_name == self.weak_head.loss_name:
            raise ValueError(f'pcl_loss and weak_head both use loss_name='
                             f'{self.pcl_loss.loss_name!r}')
        if self.weak_head.num_classes != self.num_classes:
            raise ValueError(
                f'weak_head.num_classes={self.weak_head.num_classes} differs from '
                f'decode_head.num_classes={self.num_classes}')
        self._register_load_state_dict_pre_hook(self._check_checkpoint_fits)
        if self.test_cfg is None:
            self.test_cfg = ConfigDict()
        self._check_test_cfg()

    #: Whether weights whose heads are for another class count may load
    #: (their heads skipped, with mmengine's warnings). Off: every inference
    #: path (``tools/test.py``, ``init_model`` and so ``tools/infer.py``, the
    #: pseudo masks, the inferencer) refuses them instead of predicting with
    #: untrained heads. ``APCRunner.train`` turns it on: fine-tuning.
    heads_may_differ = False
    head_prefixes = ('decode_head.', 'weak_head.')

    def _check_checkpoint_fits(self, state_dict, prefix, local_metadata, *args) -> None:
        """Refuse weights of another model, or of another class count,
        instead of half-loading them.

        mmengine loads checkpoints non-strictly and only logs what does not
        fit. A checkpoint in which most of this model's tensors are missing or
        of another shape is an error; so are heads of another class count,
        unless ``heads_may_differ``. The file's name comes with the state dict
        (``apc_mmseg.utils.checkpoint`` puts it into its metadata).
        """
        own = {prefix + k: v.shape for k, v in self.state_dict().items()}
        source = local_metadata.get(CHECKPOINT_SOURCE_KEY, 'checkpoint')
        fits = sum(1 for k, shape in own.items()
                   if k in state_dict and tuple(state_dict[k].shape) == tuple(shape))
        if fits < len(own) / 2:
            missing = [k for k in own if k not in state_dict][:3]
            raise ValueError(
                f'{source}: not weights of this model ({fits} of {len(own)} tensors fit; '
                f'e.g. missing {missing}). Is it a checkpoint of another config?')
        heads = tuple(prefix + h for h in self.head_prefixes)
        wrong = [k for k, shape in own.items() if k.startswith(heads) and k in state_dict
                 and tuple(state_dict[k].shape) != tuple(shape)]
        if wrong and not self.heads_may_differ:
            k = wrong[0]
            raise ValueError(
                f'{source}: its heads are for {state_dict[k].shape[0]} classes, the config '
                f'has {self.num_classes} ({k}: {tuple(state_dict[k].shape)} vs '
                f'{tuple(own[k])}); use the config it was trained with')

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> dict:
        """APC's training step (Fig. 2): L_cls + L_pcl + L_seg from image tags.

        Z = neck(backbone(x)); P = weak_head(Z) gives L_cls by adaptive-K
        pooling; L_pcl contrasts Z's patches by P's confidence sets; P's
        class-merged argmax, detached, is the pseudo mask the decode head
        learns from (L_seg).
        """
        labels = stack_image_labels(data_samples, self.num_classes)
        feats = self.extract_feat(inputs)
        probs = self.weak_head(feats)
        losses = self.weak_head.loss_by_probs(probs, labels)
        losses.update(self._pcl(feats[self.weak_head.in_index], probs, labels))
        pseudo = self.weak_head.pseudo_labels(
            probs, labels, inputs.shape[2:],
            [ds.metainfo.get('img_shape', inputs.shape[2:]) for ds in data_samples])
        decode = self.decode_head.loss(
            feats, self._with_pseudo_masks(data_samples, pseudo), self.train_cfg)
        clash = sorted(set(losses) & set(decode))
        if clash:
            raise ValueError(f'the decode head and the weak head both report {clash}: '
                             'give their losses distinct loss_name')
        losses.update(decode)
        return losses

    def _pcl(self, z: Tensor, probs: Tensor, labels: Tensor) -> dict:
        if self.pcl_loss is None:
            return dict(loss_pcl=z.new_zeros(()))  # same loss keys on every run and rank
        return {self.pcl_loss.loss_name: self.pcl_loss(z, probs, labels)}

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
        """What the model computes for each image, from one pass per view:

        - ``seg_logits``: log-probabilities ``[C+1, H, W]`` of ``test_cfg``'s
          map (so mmseg's consumers, ``SegTTAModel`` included, take
          ``softmax(seg_logits)`` as the probabilities), and ``pred_sem_seg``;
        - ``pred_image_scores [C+1]``: the classifier's pooled scores;
        - ``pred_pseudo_sem_seg``, when the sample carries ``gt_image_labels``:
          the pseudo mask (patch scores restricted to those tags).

        ``WSSSMetric`` picks what it judges by the sample's role.
        """
        self._check_test_cfg()
        if data_samples is None:
            data_samples = self._bare_samples(inputs)
        labels = self._image_labels(data_samples)
        output = self._output()
        outs = self._views(inputs, labels, (output, 'image_scores') +
                           (('pseudo',) if labels is not None else ()))
        maps = self._at_original_size(outs[output], data_samples)
        for ds, scores, (map_, pred) in zip(data_samples, outs['image_scores'], maps):
            ds.seg_logits = PixelData(data=map_.clamp_min(torch.finfo(map_.dtype).tiny).log())
            ds.pred_sem_seg = pred
            ds.set_data({IMAGE_SCORES_KEY: scores})
        if labels is not None:
            pseudo = self._at_original_size(outs['pseudo'], data_samples)
            for ds, (_, mask) in zip(data_samples, pseudo):
                ds.set_data({PSEUDO_MASK_KEY: mask})
        return data_samples

    def _at_original_size(self, maps: Tensor, data_samples: List[SegDataSample]):
        """``[(map [K, H, W], argmax as PixelData)]`` of ``maps [B, K, h, w]``
        per sample, padding cropped and resized to its original size as mmseg's
        ``postprocess_result`` does (on copies: the samples are not touched)."""
        results = self.postprocess_result(maps, [SegDataSample(metainfo=ds.metainfo)
                                                 for ds in data_samples])
        return [(res.seg_logits.data, res.pred_sem_seg) for res in results]

    TEST_CFG_KEYS = ('mode', 'output', 'size', 'scales', 'flip', 'use_gt_labels')

    def _check_test_cfg(self) -> None:
        if 'crf' in self.test_cfg:
            raise ValueError(
                'test_cfg.crf: DenseCRF is post-processing, not part of the model: evaluate '
                'with it by test_evaluator.type=CRFIoUMetric, refine predictions with '
                'tools/infer.py --crf, pseudo masks with tools/make_pseudo_masks.py --crf')
        unknown = sorted(set(self.test_cfg) - set(self.TEST_CFG_KEYS))
        if unknown:
            raise ValueError(f'test_cfg: unknown option(s) {unknown}; APCSegmentor takes '
                             f'{list(self.TEST_CFG_KEYS)}')
        if self.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError(
                f"test_cfg.mode={self.test_cfg.mode!r}: APCSegmentor infers on the whole "
                "image only (mode='whole'); it resizes to test_cfg.size itself, so a "
                'large image needs no sliding window')
        if self._output() not in ('decode', 'patch'):
            raise ValueError(f"test_cfg.output must be 'decode' or 'patch', got "
                             f'{self._output()!r}')

    def _output(self) -> str:
        return self.test_cfg.get('output', 'decode')

    @staticmethod
    def _bare_samples(inputs: Tensor) -> List[SegDataSample]:
        shape = inputs.shape[2:]
        return [SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                                            padding_size=[0, 0, 0, 0]))
                for _ in range(inputs.shape[0])]

    def _image_labels(self, data_samples: List[SegDataSample]) -> Optional[Tensor]:
        """``[B, C+1]`` tags when every sample carries them, else None (and an
        error where ``test_cfg`` asks for the tagged patch map)."""
        if all('gt_image_labels' in ds for ds in data_samples):
            return stack_image_labels(data_samples, self.num_classes)
        if self._output() == 'patch' and self.test_cfg.get('use_gt_labels', True):
            raise ValueError("test_cfg output='patch' with use_gt_labels needs data "
                             'samples carrying gt_image_labels')
        return None

    def decode_probs(self, inputs: Tensor) -> Tensor:
        """The decode head's class probabilities ``[B, C+1, H, W]`` at the
        input's size, with ``test_cfg``'s size, scales and flip. No labels."""
        return self._views(inputs, None, parts=('decode',))['decode']

    def patch_scores(self, inputs: Tensor, image_labels: Optional[Tensor] = None) -> Tensor:
        """The patch classifier's class-merged scores ``[B, C+1, H, W]`` (each
        class scaled to a maximum of 1; with ``image_labels [B, C+1]`` the
        other classes score 0), at the input's size with ``test_cfg``'s size,
        scales and flip."""
        return self._views(inputs, image_labels, parts=('patch',))['patch']

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """mmseg's ``EncoderDecoder.inference`` (same signature, the metas
        unused): log-probabilities of ``test_cfg.output``'s map at the
        input's size, without tags."""
        self._check_test_cfg()
        outs = self._views(inputs, None, parts=(self._output(),))
        probs = outs[self._output()]
        return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()

    def _views(self, inputs: Tensor, image_labels: Optional[Tensor],
               parts: Sequence[str]) -> Dict[str, Tensor]:
        """The mean over ``test_cfg``'s scales and flips of the outputs named
        in ``parts``, from one forward pass per view: ``decode`` (decode head
        probabilities), ``patch`` (class-merged patch scores, restricted to
        ``image_labels`` where ``test_cfg.use_gt_labels``), ``pseudo`` (the
        patch scores restricted to ``image_labels [B, C+1]``, needed then) and
        ``image_scores`` (pooled, ``[B, C+1]``). Maps ``[B, K, H, W]`` come
        back flipped and resized to the input's size."""
        H, W = inputs.shape[2:]
        size = self.test_cfg.get('size', None) or (H, W)
        flips = (False, True) if self.test_cfg.get('flip', False) else (False,)
        views = [(scale, flip) for scale in self.test_cfg.get('scales', (1.0,)) for flip in flips]
        tagged_patch = self.test_cfg.get('use_gt_labels', True)
        total: Dict[str, Tensor] = {}
        for scale, flip in views:
            shape = (int(round(size[0] * scale)), int(round(size[1] * scale)))
            x = inputs if shape == (H, W) else F.interpolate(
                inputs, shape, mode='bilinear', align_corners=False)
            feats = self.extract_feat(x.flip(-1) if flip else x)
            probs = self.weak_head(feats) if set(parts) - {'decode'} else None
            out = {}
            if 'decode' in parts:
                # The head's own predict (a user's head may post-process its
                # logits): logits at the view's size, then probabilities.
                metas = [dict(img_shape=shape)] * inputs.shape[0]
                out['decode'] = self.decode_head.predict(feats, metas, self.test_cfg).softmax(1)
            if 'patch' in parts:
                out['patch'] = self._patch_map(probs, image_labels if tagged_patch else None)
            if 'pseudo' in parts:
                out['pseudo'] = self._patch_map(probs, image_labels)
            if 'image_scores' in parts:
                out['image_scores'] = self.weak_head.pooling(probs)
            for key, t in out.items():
                if t.dim() == 4:
                    t = F.interpolate(t.flip(-1) if flip else t, (H, W), mode='bilinear',
                                      align_corners=False)
                total[key] = t if key not in total else total[key] + t
        return {key: t / len(views) for key, t in total.items()}

    def _patch_map(self, probs: Tensor, image_labels: Optional[Tensor]) -> Tensor:
        return self.weak_head.class_merge(probs, image_labels).clamp_min(0)
