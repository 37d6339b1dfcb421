# The decode head's pseudo labels as the paper words them: each patch's predicted
# class (argmax of P over all classes), not restricted to the image's tags nor
# divided by each class's maximum. docs/method.md, "Pseudo labels".
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(pseudo_label='argmax'))
