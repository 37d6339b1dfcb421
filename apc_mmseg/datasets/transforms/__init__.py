from .weak_labels import LoadCheckedImageFromFile, LoadImageLevelLabels, PackWeakSegInputs

__all__ = ['LoadCheckedImageFromFile', 'LoadImageLevelLabels', 'PackWeakSegInputs']
