# The demo recipe on the harder generated set (6 object classes, smaller objects,
# textured backgrounds): `tools/dataset_converters/make_demo_data.py --dataset hard
# --out data/demo_hard`, or `tools/demo.py --config THIS --dataset hard`.
_base_ = './apc_demo_cpu.py'
metainfo = dict(
    classes=('background', 'disc', 'square', 'triangle', 'ring', 'cross', 'diamond'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
             [0, 128, 128]])
data_root = 'data/demo_hard'
model = dict(weak_head=dict(num_classes=7), decode_head=dict(num_classes=7))
data = dict(data_root=data_root, metainfo=metainfo)
train_dataloader = dict(dataset=data)
val_dataloader = dict(dataset=dict(val=data, train=data))
test_dataloader = dict(dataset=data)
