"""Panels of images with overlays, saved as one PNG of a predictable size (matplotlib, Agg backend)."""
import colorsys
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np


@dataclass
class Panel:
    """One image of a grid, with a title and optional artists drawn over it in pixel coordinates.

    Args:
        image (np.ndarray): ``(H, W, 3)`` RGB, uint8 or float in [0, 1].
        title (str): Title above the panel (may hold a newline).
        draw (Callable, optional): ``draw(ax)`` adds markers, lines or patches; ``x`` is the column and ``y`` the
            row of the image, pixel centres at integers. Defaults to None.
    """
    image: np.ndarray
    title: str = ''
    draw: Optional[Callable] = None


def grid_size(panels: Sequence[Panel], ncols: int, panel_px: int, title_px: int = 36,
              header_px: int = 0) -> Tuple[int, int]:
    """``(width, height)`` in pixels of the PNG that :func:`save_panels` writes for these arguments.

    Args:
        panels (Sequence[Panel]): The panels (``None`` for an empty cell).
        ncols (int): Panels per row.
        panel_px (int): Width of a panel.
        title_px (int): Height of a panel's title strip. Defaults to 36.
        header_px (int): Height of the header strip (0 without a header). Defaults to 0.
    """
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    aspect = max(p.image.shape[0] / p.image.shape[1] for p in panels if p is not None)
    return ncols * panel_px, nrows * (round(panel_px * aspect) + title_px) + header_px


def save_panels(panels: Sequence[Panel], out_file: str, ncols: int = 4, panel_px: int = 256, title_px: int = 36,
                header: Optional[str] = None, header_px: int = 28, font_size: Optional[float] = None) -> str:
    """Draw the panels in a grid (row-major) and save a PNG of exactly :func:`grid_size` pixels.

    Args:
        panels (Sequence[Panel]): The panels; ``None`` entries leave their cell empty.
        out_file (str): The PNG to write (folders are created).
        ncols (int): Panels per row. Defaults to 4.
        panel_px (int): Width of a panel in pixels. Defaults to 256.
        title_px (int): Height of the title strip above each panel. Defaults to 36.
        header (str, optional): A line above the whole grid. Defaults to None.
        header_px (int): Height of the header strip, if any. Defaults to 28.
        font_size (float, optional): Title font size in points (at 100 dpi). Defaults to None:
            ``panel_px / 32`` within [6, 9].

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    if all(p is None for p in panels):
        raise ValueError('nothing to draw: no panels')
    header_px = header_px if header else 0
    font_size = font_size if font_size is not None else min(max(panel_px / 32, 6.), 9.)
    width, height = grid_size(panels, ncols, panel_px, title_px, header_px)
    ncols = max(1, min(ncols, len(panels)))
    cell_h = (height - header_px) // (-(-len(panels) // ncols))
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor='white')
    if header:
        fig.text(0.5, 1 - header_px / 2 / height, header, ha='center', va='center', fontsize=font_size + 1,
                 weight='bold')
    for i, panel in enumerate(panels):
        if panel is None:
            continue
        row, col = divmod(i, ncols)
        img_h = cell_h - title_px
        bottom = height - header_px - (row + 1) * cell_h
        ax = fig.add_axes([col * panel_px / width, bottom / height, panel_px / width, img_h / height])
        h, w = panel.image.shape[:2]
        ax.imshow(panel.image, extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation='nearest')
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_axis_off()
        if panel.draw is not None:
            panel.draw(ax)
        fig.text((col + 0.5) * panel_px / width, (bottom + img_h + title_px / 2) / height, panel.title,
                 ha='center', va='center', fontsize=font_size, linespacing=1.2)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=dpi, facecolor='white')
    plt.close(fig)
    return out_file


def to_rgb_float(image_bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR ``(H, W, 3)`` -> float RGB in [0, 1]."""
    return image_bgr[..., ::-1].astype(np.float32) / 255.


def pad_image(image_rgb: np.ndarray, size: Tuple[int, int], value: float = 0.5) -> np.ndarray:
    """Pad a float RGB image at the bottom and right to ``size = (H, W)`` (as a detector's preprocessor pads its
    input), with grey ``value``.

    Args:
        image_rgb (np.ndarray): ``(h, w, 3)`` float RGB, ``h <= H`` and ``w <= W``.
        size (tuple[int, int]): ``(H, W)``.
        value (float): Fill value. Defaults to 0.5.
    """
    h, w = image_rgb.shape[:2]
    return np.pad(image_rgb, ((0, size[0] - h), (0, size[1] - w), (0, 0)), constant_values=value)


def heatmap_overlay(image_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = 'jet') -> np.ndarray:
    """Blend a ``(H, W)`` map in [0, 1] (colour-mapped) over a float RGB image; returns float RGB in [0, 1].

    Args:
        image_rgb (np.ndarray): ``(H, W, 3)`` float RGB in [0, 1].
        heat (np.ndarray): ``(H, W)`` values in [0, 1].
        alpha (float): Weight of the map. Defaults to 0.5.
        cmap (str): A matplotlib colour map. Defaults to ``'jet'``.
    """
    from matplotlib import colormaps
    colours = colormaps[cmap](np.clip(heat, 0, 1))[..., :3]
    return (1 - alpha) * image_rgb + alpha * colours


def label_colours(num: int, seed: int = 0) -> np.ndarray:
    """``(num, 3)`` distinct-looking RGB colours in [0, 1]: matplotlib's ``tab10`` for up to 10 labels, else hues
    spaced by the golden ratio (consecutive labels differ strongly) with varying saturation and value.

    Args:
        num (int): Number of colours.
        seed (int): Offset of the first hue (more than 10 labels). Defaults to 0.
    """
    if num <= 10:
        from matplotlib import colormaps
        return np.asarray(colormaps['tab10'].colors[:num], dtype=np.float32)
    golden = (5 ** 0.5 - 1) / 2
    out = np.empty((num, 3), dtype=np.float32)
    for i in range(num):
        hue = (seed * 0.1 + i * golden) % 1.
        out[i] = colorsys.hsv_to_rgb(hue, 0.65 + 0.35 * ((i // 3) % 2), 0.75 + 0.25 * ((i // 2) % 2))
    return out


def label_overlay(image_rgb: np.ndarray, labels: np.ndarray, num_labels: int, alpha: float = 0.55) -> np.ndarray:
    """Colour every pixel by its label over a float RGB image; labels ``(H, W)`` int in ``[0, num_labels)``.

    Args:
        image_rgb (np.ndarray): ``(H, W, 3)`` float RGB in [0, 1].
        labels (np.ndarray): ``(H, W)`` integer labels.
        num_labels (int): Number of possible labels.
        alpha (float): Weight of the colours. Defaults to 0.55.
    """
    colours = label_colours(num_labels)[labels]
    return (1 - alpha) * image_rgb + alpha * colours


def upsample_cells(grid: np.ndarray, stride: int, size: Tuple[int, int]) -> np.ndarray:
    """Repeat each cell of a ``(h, w)`` grid ``stride`` times per axis and crop to ``size = (H, W)``."""
    out = np.repeat(np.repeat(grid, stride, axis=0), stride, axis=1)
    return out[:size[0], :size[1]]


__all__ = ['Panel', 'grid_size', 'save_panels', 'to_rgb_float', 'pad_image', 'heatmap_overlay', 'label_colours',
           'label_overlay', 'upsample_cells']
