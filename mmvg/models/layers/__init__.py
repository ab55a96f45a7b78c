from .cluster import Cluster

__all__ = ['Cluster']
