"""Names of the fields APC adds to mmseg's ``SegDataSample`` (shared by the
validation dataset, the segmentor and the WSSS metric)."""
# metainfo: 'train' on the training images that WSSSValDataset adds to validation.
WSSS_ROLE_KEY = 'wsss_role'
# data: the real mask of such an image (its gt_sem_seg is all ignore_index).
TRAIN_MASK_KEY = 'gt_train_sem_seg'
# data: the image-level classifier's pooled scores [C+1].
IMAGE_SCORES_KEY = 'pred_image_scores'
# data: the pseudo mask (patch scores restricted to the sample's gt_image_labels).
PSEUDO_MASK_KEY = 'pred_pseudo_sem_seg'
