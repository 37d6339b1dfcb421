from .akp_head import AKPHead

__all__ = ['AKPHead']
