from .maps import (colorize, heatmap, overlay, prediction_panel, row, save_rgb,
                   score_panel)

__all__ = ['colorize', 'heatmap', 'overlay', 'prediction_panel', 'row', 'save_rgb',
           'score_panel']
