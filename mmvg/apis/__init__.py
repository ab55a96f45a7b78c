from .datasets_check import DatasetNotFoundError, check_datasets
from .amp import AutocastOptimWrapper, cpu_has_native_bf16, enable_amp, prepare_cpu_autocast
from .demo import apply_demo, save_predictions
from .dist import setup_cpu_distributed

__all__ = ['DatasetNotFoundError', 'check_datasets', 'AutocastOptimWrapper', 'apply_demo', 'cpu_has_native_bf16',
           'enable_amp', 'prepare_cpu_autocast', 'save_predictions', 'setup_cpu_distributed']
