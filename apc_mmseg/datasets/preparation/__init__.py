"""Writers of the files the weak-label datasets read (labels, split lists, masks)."""
from .coco import prepare as prepare_coco
from .voc import prepare as prepare_voc

__all__ = ['prepare_coco', 'prepare_voc']
