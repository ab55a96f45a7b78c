from .utils import checkpoint_io  # noqa: F401  (registers the torch>=2.6-safe local checkpoint loader)
from .version import __version__

__all__ = ['__version__']
