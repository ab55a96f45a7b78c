from .shapes import (MARKER_FILE, SHAPES_CLASSES, SHAPES_PALETTE, SHAPES_SEG_CLASSES, SHAPES_SEG_PALETTE, TASKS,
                     Scene, generate_shapes, mask_to_polygons, read_marker, render_scene)

__all__ = [
    'MARKER_FILE', 'SHAPES_CLASSES', 'SHAPES_PALETTE', 'SHAPES_SEG_CLASSES', 'SHAPES_SEG_PALETTE', 'TASKS', 'Scene',
    'generate_shapes', 'mask_to_polygons', 'read_marker', 'render_scene'
]
