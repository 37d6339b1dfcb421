import os.path as osp

import pytest
import torch
from helpers import REPO, batch, tiny_model_cfg
from mmengine.config import Config
from mmseg.registry import MODELS

from apc_mmseg.models import APCSegmentor

NUM_CLASSES = 4


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg())


def test_loss_keys_and_finite(model):
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_pcl', 'loss_seg', 'acc_seg'}
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_every_trainable_parameter_gets_a_gradient(model):
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


def test_loss_seg_finite_when_every_pixel_is_ignored(model):
    data = model.data_preprocessor(batch(), True)
    for ds in data['data_samples']:
        ds.set_metainfo(dict(img_shape=(0, 0)))  # all padding -> all 255
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_seg']) and losses['loss_seg'].item() == 0.0
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_without_pcl_the_key_stays(model):
    cfg = tiny_model_cfg()
    cfg.pcl_loss = None
    m = MODELS.build(cfg)
    losses = m(**m.data_preprocessor(batch(), True), mode='loss')
    assert losses['loss_pcl'].item() == 0.0


def test_wrong_label_length_is_a_clear_error(model):
    data = model.data_preprocessor(batch(labels=((1, 1, 0), (1, 0, 1))), True)
    with pytest.raises(ValueError, match='image labels have 3 classes but the model has 4'):
        model(**data, mode='loss')


def test_num_classes_must_agree():
    cfg = tiny_model_cfg()
    cfg.weak_head.num_classes = 5
    with pytest.raises(ValueError, match='weak_head.num_classes=5 differs'):
        MODELS.build(cfg)


def test_one_step_lowers_the_loss(model):
    data = model.data_preprocessor(batch(), True)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def total():
        torch.manual_seed(0)  # the same dropout masks each time
        losses = model(**data, mode='loss')
        return sum(v for k, v in losses.items() if 'loss' in k)

    before = total()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = total()
    assert after.item() < before.item()


def test_predict_decode_at_original_size(model, device):
    model.to(device).eval()
    data = model.data_preprocessor(batch(ori=(40, 50)), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 40, 50)
    probs = out[0].seg_logits.data.exp()  # log-probabilities
    assert probs.shape == (NUM_CLASSES, 40, 50)
    assert probs.device.type == device.type
    torch.testing.assert_close(probs.sum(0), torch.ones(40, 50, device=probs.device))


def test_predict_patch_mode_restricted_to_labels(model, device):
    model.test_cfg.update(output='patch', use_gt_labels=True, flip=True, scales=(1.0, 1.5))
    model.to(device).eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert set(out[1].pred_sem_seg.data.unique().tolist()) <= {0, 2, 3}
    tiny = torch.finfo(torch.float32).tiny
    assert out[0].seg_logits.data[2:].exp().max() <= tiny  # absent classes score 0


def test_patch_mode_needs_labels(model):
    model.test_cfg.update(output='patch')
    model.eval()
    with pytest.raises(ValueError, match='needs data samples'):
        model.predict(torch.zeros(1, 3, 32, 32))


def test_test_cfg_crf_is_refused_with_where_crf_runs():
    """DenseCRF is post-processing: the model refuses ``test_cfg.crf`` and
    names the three places that run it."""
    cfg = tiny_model_cfg()
    cfg.test_cfg.crf = dict(iterations=2)
    with pytest.raises(ValueError, match='test_cfg.crf: DenseCRF is post-processing.*'
                       'CRFIoUMetric.*infer.py --crf.*make_pseudo_masks.py --crf'):
        MODELS.build(cfg)


def test_the_models_import_no_post_processing():
    """No module under apc_mmseg/models imports the post-processing package."""
    import ast
    import glob
    found = []
    for path in glob.glob(osp.join(REPO, 'apc_mmseg/models/**/*.py'), recursive=True):
        for node in ast.walk(ast.parse(open(path).read())):
            names = [node.module or ''] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [(path, n) for n in names if 'postprocessing' in n]
    assert found == []


def test_seg_logits_are_the_log_of_the_named_map(model, device):
    """decode: log of the decode head's probabilities; patch: log of the
    class-merged patch scores (each class's maximum 1)."""
    model.to(device).eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():  # predict fills the samples in place: keep what each gave
        decoded = [(ds.seg_logits.data, ds.pred_sem_seg.data[0])
                   for ds in model(**data, mode='predict')]
        probs = model.decode_probs(data['inputs'])
        model.test_cfg.update(output='patch')
        patched = [ds.seg_logits.data for ds in model(**data, mode='predict')]
        labels = torch.stack([ds.gt_image_labels for ds in data['data_samples']]).to(device)
        scores = model.patch_scores(data['inputs'], labels)
    for i in range(2):
        torch.testing.assert_close(decoded[i][0].exp(), probs[i])
        assert torch.equal(decoded[i][1], probs[i].argmax(0))
        torch.testing.assert_close(patched[i].exp(), scores[i], atol=2e-38, rtol=1e-5)


def test_flip_averages_the_mirrored_prediction(model):
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    metas = [dict(ori_shape=(32, 32), img_shape=(32, 32), pad_shape=(32, 32))]
    with torch.no_grad():
        plain = model.inference(x, metas)
        mirrored = model.inference(x.flip(-1), metas).flip(-1)
        model.test_cfg.flip = True
        both = model.inference(x, metas)
    torch.testing.assert_close(both.exp(), (plain.exp() + mirrored.exp()) / 2)


def test_predict_adds_the_pooled_image_scores(model, device):
    """``pred_image_scores``: the weak head's pooled scores, averaged over flips
    like the maps."""
    model.test_cfg.flip = True
    model.to(device).eval()
    data = model.data_preprocessor(batch(), False)
    x = data['inputs']
    with torch.no_grad():
        out = model(**data, mode='predict')
        pooled = [model.weak_head.pooling(model.weak_head(model.extract_feat(v)))
                  for v in (x, x.flip(-1))]
    want = (pooled[0] + pooled[1]) / 2
    assert want.shape == (2, NUM_CLASSES)
    for res, w in zip(out, want):
        torch.testing.assert_close(res.pred_image_scores, w)


def test_tagged_samples_also_get_their_pseudo_mask(model, device):
    """Every sample gets test_cfg's map and the pooled scores; a sample that
    carries ``gt_image_labels`` also gets the pseudo mask (patch scores with
    those tags), from the same forward pass. The model knows nothing of
    datasets: WSSSMetric picks by role."""
    model.to(device).eval()
    data = model.data_preprocessor(batch(labels=((1, 0, 1, 1), (1, 1, 0, 0))), False)
    x, labels = data['inputs'], torch.stack([s.gt_image_labels for s in data['data_samples']])
    with torch.no_grad():
        out = model(**data, mode='predict')
        pseudo = model.patch_scores(x, labels.to(x.device)).argmax(1)
        decoded = model.decode_probs(x).argmax(1)
    for i in range(2):
        assert torch.equal(out[i].pred_pseudo_sem_seg.data[0], pseudo[i])
        assert torch.equal(out[i].pred_sem_seg.data[0], decoded[i])
        assert out[i].pred_image_scores.shape == (NUM_CLASSES,)
    assert set(pseudo[0].unique().tolist()) <= {0, 2, 3}
    untagged = model.data_preprocessor(batch(), False)
    del untagged['data_samples'][0].gt_image_labels
    with torch.no_grad():
        out = model(**untagged, mode='predict')
    assert 'pred_pseudo_sem_seg' not in out[0] and 'pred_image_scores' in out[0]


def test_tta_averages_the_views_probabilities(model, device):
    """mmseg's SegTTAModel (``--tta``) averages softmax(seg_logits) over the
    views: with flip, its prediction is the argmax of the mean of the two
    views' probabilities, computed here by hand."""
    from mmseg.models import SegTTAModel
    model.to(device).eval()
    tta = SegTTAModel(module=model)
    views = []
    for flip in (False, True):
        data = batch(labels=((1, 1, 0, 0),) * 2, ori=(40, 50))
        data = {k: v[:1] for k, v in data.items()}
        data['data_samples'][0].set_metainfo(dict(img_path='view.png'))
        if flip:
            data['inputs'] = [t.flip(-1) for t in data['inputs']]
            data['data_samples'][0].set_metainfo(dict(flip=True, flip_direction='horizontal'))
        views.append(data)
    with torch.no_grad():
        merged = tta.test_step(dict(inputs=[v['inputs'] for v in views],
                                    data_samples=[v['data_samples'] for v in views]))
        probs = []
        for v in views:
            d = model.data_preprocessor(v, False)
            res = model.predict(d['inputs'], d['data_samples'])[0]
            p = model.decode_probs(d['inputs'])
            p = p.flip(-1) if v is views[1] else p
            p = torch.nn.functional.interpolate(p, (40, 50), mode='bilinear',
                                                align_corners=False)[0]
            # what SegTTAModel takes as the view's probabilities is the view's probabilities
            torch.testing.assert_close(res.seg_logits.data.softmax(0), p)
            probs.append(p)
    want = ((probs[0] + probs[1]) / 2).argmax(0)
    assert torch.equal(merged[0].pred_sem_seg.data.squeeze(0), want)


@pytest.mark.parametrize('test_cfg,match', [
    (dict(mode='slide', crop_size=(16, 16), stride=(8, 8)), 'unknown option'),
    (dict(mode='slide'), "mode='slide'.*whole"),
    (dict(flp=True), r"unknown option\(s\) \['flp'\].*'flip'"),
])
def test_test_cfg_is_checked(test_cfg, match):
    cfg = tiny_model_cfg()
    cfg.test_cfg.update(test_cfg)
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_is_an_encoder_decoder():
    from mmseg.models.segmentors import EncoderDecoder
    assert issubclass(APCSegmentor, EncoderDecoder)


def test_full_vitb16_voc_step_at_384():
    """The paper's model at its training size: batch 2 x 384^2, forward + backward."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/apc/apc_vitb16_voc.py')).model
    cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    labels = [[1] + [0] * 20, [1] * 3 + [0] * 18]
    data = model.data_preprocessor(batch(size=(384, 384), labels=labels), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    layers = model.backbone.layers
    # Blocks 1-7 never train (no gradient); blocks 8-12 do (held by the optimiser).
    assert all(p.grad is None and not p.requires_grad for p in layers[6].parameters())
    assert all(p.grad is not None for p in layers[7].parameters())
    assert model.weak_head.classifier.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('ce', [
    dict(),  # mmseg's default: mean over every pixel, ignored ones count as 0
    dict(avg_non_ignore=True, loss_weight=0.7),
])
def test_decode_head_learns_the_weak_heads_pseudo_labels(ce):
    """L_seg of the whole step against a float64 reference: the decode head's
    logits, upsampled bilinearly to the input, scored by per-pixel softmax CE
    against the weak head's patch pseudo labels (padding ignored)."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    cfg.decode_head.loss_decode = dict(type='CrossEntropyLoss', loss_name='loss_seg', **ce)
    model = MODELS.build(cfg).eval()  # eval: no dropout, the same maps twice
    data = model.data_preprocessor(batch(), True)
    data['data_samples'][0].set_metainfo(dict(img_shape=(32, 27)))  # 5 padded columns
    losses = model(**data, mode='loss')

    feats = model.extract_feat(data['inputs'])
    labels = torch.stack([ds.gt_image_labels for ds in data['data_samples']])
    pseudo = model.weak_head.pseudo_labels(model.weak_head(feats), labels, (32, 32),
                                           [(32, 27), (32, 32)])
    assert (pseudo[0, :, 27:] == 255).all() and len(pseudo[1].unique()) > 1
    logits = model.decode_head(feats).double()
    up = torch.nn.functional.interpolate(logits, (32, 32), mode='bilinear', align_corners=False)
    valid = pseudo != 255
    y = pseudo.clamp_max(NUM_CLASSES - 1)
    nll = -up.log_softmax(1).gather(1, y[:, None])[:, 0]
    count = valid.sum() if ce.get('avg_non_ignore') else valid.numel()
    expected = ce.get('loss_weight', 1.0) * nll[valid].sum() / count
    torch.testing.assert_close(losses['loss_seg'].double(), expected, rtol=1e-5, atol=1e-7)
    acc = 100.0 * (up.argmax(1) == pseudo)[valid].double().mean()
    torch.testing.assert_close(losses['acc_seg'].double().reshape(()), acc, rtol=1e-4, atol=1e-4)


def pce_reference(z, probs, labels, theta, tau, eps=1e-6):
    """Eqs. 4-6 written out in float64, pair by pair, from their definitions."""
    z = torch.nn.functional.normalize(z.double().flatten(1), dim=0)  # D, N
    sim = ((1 + z.t() @ z) / 2).clamp(eps, 1 - eps)
    values = []
    for c in (labels > 0).nonzero()[:, 0].tolist():
        p = probs[c].double().flatten()
        high = (p > theta).nonzero()[:, 0].tolist()
        low = (p < tau).nonzero()[:, 0].tolist()
        if not high:
            continue
        pairs = [(i, j) for i in high for j in high if i != j]
        pce = -sum(sim[i, j].log() for i, j in pairs) / len(pairs) if pairs else 0.0
        cross = [(i, j) for i in high for j in low]
        if cross:
            pce = pce - sum((1 - sim[i, j]).log() for i, j in cross) / len(cross)
        values.append(pce)
    return values


def test_pcl_of_the_step_contrasts_the_neck_output_and_spares_the_classifier():
    """With non-empty high and low sets: loss_pcl of the training step equals
    Eqs. 4-6 computed in float64 on the neck's output Z with the weak head's P;
    its gradient reaches Z (the neck) and not the patch classifier."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    cfg.pcl_loss.theta = 0.5
    model = MODELS.build(cfg).eval()  # eval: no dropout, the same Z twice
    with torch.no_grad():
        model.weak_head.classifier.weight.mul_(20)
    data = model.data_preprocessor(batch(), True)
    feats = model.extract_feat(data['inputs'])
    z, probs = feats[model.weak_head.in_index], model.weak_head(feats)
    labels = torch.stack([ds.gt_image_labels for ds in data['data_samples']])
    pces = [v for b in range(2) for v in pce_reference(z[b], probs[b], labels[b], 0.5, 0.1)]
    assert len(pces) >= 2, 'the high sets are empty: PCL would not be seen'
    want = 0.02 * sum(pces) / len(pces)

    losses = model(**data, mode='loss')
    assert losses['loss_pcl'].item() > 0
    torch.testing.assert_close(losses['loss_pcl'].double(), torch.as_tensor(want).double(),
                               rtol=1e-5, atol=1e-8)
    losses['loss_pcl'].backward()
    neck = [p.grad for p in model.neck.parameters() if p.requires_grad]
    assert all(g is not None for g in neck) and sum(g.abs().sum() for g in neck) > 0
    assert model.weak_head.classifier.weight.grad is None  # P only picks the sets
    assert all(p.grad is None for p in model.decode_head.parameters())


def test_losses_are_keyed_by_their_loss_name_and_never_overwritten():
    cfg = tiny_model_cfg()
    cfg.weak_head.loss_name = 'loss_weak'
    cfg.pcl_loss.loss_name = 'loss_contrast'
    model = MODELS.build(cfg)
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    assert {'loss_weak', 'loss_contrast', 'loss_seg'} <= set(losses)
    cfg.decode_head.loss_decode.loss_name = 'loss_weak'  # the weak head's key
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match=r"both report \['loss_weak'\]"):
        model(**model.data_preprocessor(batch(), True), mode='loss')
