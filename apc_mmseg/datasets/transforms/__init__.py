from .weak_labels import LoadImageLevelLabels, PackWeakSegInputs

__all__ = ['LoadImageLevelLabels', 'PackWeakSegInputs']
