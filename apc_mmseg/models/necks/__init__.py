from .hv_bilstm import HVBiLSTM

__all__ = ['HVBiLSTM']
