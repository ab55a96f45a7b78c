"""Recording what layers compute (neighbours, cluster assignments) for visualisation, without changing it."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Type

import torch.nn as nn


@contextmanager
def record_into(model: nn.Module, module_type: Type[nn.Module], attr: str) -> Iterator[Dict[str, List]]:
    """Give every ``module_type`` module of ``model`` a list as ``attr`` while the context is open.

    The modules append one record per forward call to ``attr`` when it is a list (and record nothing when it is
    None, their default). Yields a dict from each module's name to its list; ``attr`` is None again afterwards.

    Args:
        model (nn.Module): Any module containing ``module_type`` modules (possibly the module itself, name '').
        module_type (type): The recording module class.
        attr (str): The attribute the modules append to.
    """
    modules = [(name, m) for name, m in model.named_modules() if isinstance(m, module_type)]
    records = {name: [] for name, _ in modules}
    for name, m in modules:
        setattr(m, attr, records[name])
    try:
        yield records
    finally:
        for _, m in modules:
            setattr(m, attr, None)
