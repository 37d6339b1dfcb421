"""The test-mode pipeline of an image with its tags (and its mask), written
once for every part that judges weak labels on training images: the
training part of ``WSSSValDataset`` and the pseudo masks."""


def tag_pipeline(masks: bool = True) -> list:
    """Load the image and its image-level labels (and its mask when
    ``masks``), packed as ``PackWeakSegInputs`` packs them."""
    return ([dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels')]
            + ([dict(type='LoadAnnotations')] if masks else [])
            + [dict(type='PackWeakSegInputs')])
