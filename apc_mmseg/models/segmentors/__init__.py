from .apc_segmentor import APCSegmentor

__all__ = ['APCSegmentor']
