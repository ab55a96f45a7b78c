from .cluster import Cluster
from .graph import (FFN, ConvNorm, Grapher, MaxRelativeGraphConv, RelativePosition, knn_graph, max_relative,
                    relative_position)
from .pos_embed import resize_pos_embed, sincos_embed_2d, sincos_grid_embed_2d
from .permute_mlp import ChannelMlp, WeightedPermuteMLP, window_mix

__all__ = ['Cluster']
__all__ += ['FFN', 'ConvNorm', 'Grapher', 'MaxRelativeGraphConv', 'RelativePosition', 'knn_graph', 'max_relative',
            'relative_position', 'resize_pos_embed', 'sincos_embed_2d', 'sincos_grid_embed_2d']
__all__ += ['ChannelMlp', 'WeightedPermuteMLP', 'window_mix']
