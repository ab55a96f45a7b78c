from .context_cluster import ContextCluster
from .pyramid_vig import PyramidViG, ViG

__all__ = ['ContextCluster']
__all__ += ['PyramidViG', 'ViG']
