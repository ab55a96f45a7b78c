import os

import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: runs real training or evaluation (seconds to minutes)')
