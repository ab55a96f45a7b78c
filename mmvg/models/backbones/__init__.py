from .context_cluster import ContextCluster
from .pyramid_vig import PyramidViG, ViG
from .convmixer import ConvMixer, PyramidConvMixer
from .vip import VisionPermutator

__all__ = ['ContextCluster']
__all__ += ['PyramidViG', 'ViG']
__all__ += ['ConvMixer', 'PyramidConvMixer']
__all__ += ['VisionPermutator']
