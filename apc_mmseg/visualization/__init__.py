from .label_png import save_label_png
from .maps import colorize, heatmap, overlay, prediction_panel, row, save_rgb, score_panel

__all__ = ['colorize', 'heatmap', 'overlay', 'prediction_panel', 'row', 'save_label_png',
           'save_rgb', 'score_panel']
