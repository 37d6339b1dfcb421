from .label_png import save_label_png
from .maps import (
    colorize,
    enlarge,
    heatmap,
    legend,
    overlay,
    prediction_panel,
    row,
    save_rgb,
    score_panel,
    shown_classes,
)

__all__ = ['colorize', 'enlarge', 'heatmap', 'legend', 'overlay', 'prediction_panel', 'row',
           'save_label_png', 'save_rgb', 'score_panel', 'shown_classes']
