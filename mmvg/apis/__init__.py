from .datasets_check import DatasetNotFoundError, check_datasets
from .demo import AutocastOptimWrapper, apply_demo, enable_amp, save_predictions
from .dist import setup_cpu_distributed

__all__ = ['DatasetNotFoundError', 'check_datasets', 'AutocastOptimWrapper', 'apply_demo', 'enable_amp',
           'save_predictions', 'setup_cpu_distributed']
