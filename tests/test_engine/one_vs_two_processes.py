"""First-step losses and gradients of a tiny APC model: one process with the
whole batch (`single OUT`) or, under torchrun, two processes with half each
(`ddp OUT`). Dropout off; PCL off (its mean over the batch's valid
(image, class) pairs, like BatchNorm's statistics, depends on how the batch is
split); the decode head uses GroupNorm, which does not. Run with tests/ on
PYTHONPATH (conftest.tool_env)."""
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def build():
    from helpers import tiny_model_cfg
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import apc_mmseg  # noqa: F401
    register_all_modules(init_default_scope=True)
    cfg = tiny_model_cfg()
    cfg.neck.dropout = 0.0
    cfg.weak_head.dropout = 0.0
    cfg.decode_head.dropout_ratio = 0.0
    cfg.pcl_loss = None
    torch.manual_seed(0)
    return MODELS.build(cfg)


def data(model, part=None):
    from helpers import batch
    labels = ((1, 1, 0, 0), (1, 0, 1, 1), (1, 0, 0, 1), (1, 1, 1, 0))
    d = batch(n=4, labels=labels, seed=3)
    if part is not None:
        d = {k: v[2 * part:2 * part + 2] for k, v in d.items()}
    return model.data_preprocessor(d, True)


def losses_and_grads(model, module, d):
    losses = model(**d, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    values = torch.stack([losses[k].detach() for k in sorted(losses) if k.startswith('loss')])
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    return values, grads


def main(mode, out):
    torch.use_deterministic_algorithms(True)
    if mode == 'single':
        model = build()
        values, grads = losses_and_grads(model, model, data(model))
    else:
        dist.init_process_group('gloo')
        rank = dist.get_rank()
        module = build()
        model = DistributedDataParallel(module, device_ids=None)
        values, grads = losses_and_grads(model, module, data(module, part=rank))
        dist.all_reduce(values)  # batch-mean losses: the mean over ranks is the whole batch's
        values /= dist.get_world_size()
        if rank == 0:
            torch.save(dict(losses=values, grads=grads), out)
        from apc_mmseg.utils import finish_distributed
        del model  # the DDP wrapper references the process group
        finish_distributed()
        return
    torch.save(dict(losses=values, grads=grads), out)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
