from .datasets_check import DatasetNotFoundError, check_datasets
from .demo import apply_demo, enable_amp, save_predictions

__all__ = ['DatasetNotFoundError', 'check_datasets', 'apply_demo', 'enable_amp', 'save_predictions']
