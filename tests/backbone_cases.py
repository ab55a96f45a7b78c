"""Every registered backbone joins the shared contract test with one entry here: small but real archs (the same
code paths as the full models) so the whole suite runs on a CPU in minutes."""
import pytest

# name -> (registry type, constructor kwargs of a tiny arch, expected stage strides)
BACKBONE_CASES = {
    'coc': ('mmvg.ContextCluster',
            dict(arch=dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40], num_heads=[2, 2, 4, 4],
                           head_dims=[8, 8, 8, 8], mlp_ratios=[2, 2, 2, 2], proposal_sizes=[2, 2, 2, 2],
                           folds=[8, 4, 2, 1])),
            (4, 8, 16, 32)),
    # k=9 with key pooling 4, 2, 1, 1 and the relative-position term; the last block has dilation 2
    'pvig': ('mmvg.PyramidViG', dict(arch=dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40])), (4, 8, 16, 32)),
    # isotropic: 5 blocks in depth groups 2, 1, 1, 1, all at stride p = 7 (odd sizes pad to whole patches)
    'convmixer': ('mmvg.ConvMixer', dict(arch=dict(embed_dim=16, depth=5, kernel_size=5, patch_size=7)), (7, 7, 7, 7)),
    'pyramid_convmixer': ('mmvg.PyramidConvMixer', dict(arch=dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40])),
                          (4, 8, 16, 32)),
    # official layout (patch 7, 2x2 downsampling after stage 0, windows = segment_dims 8 and 4: partial windows at
    # these sizes) and a pyramid with several windows per axis
    'vip': ('mmvg.VisionPermutator',
            dict(arch=dict(depths=[1, 1, 1, 1], embed_dims=[16, 32, 32, 32], segment_dims=[8, 4, 4, 4],
                           transitions=[True, False, False, False], patch_size=7)),
            (7, 14, 14, 14)),
    'vip_pyramid': ('mmvg.VisionPermutator',
                    dict(arch=dict(depths=[1, 1, 2, 1], embed_dims=[16, 24, 32, 40], segment_dims=[16, 6, 4, 2],
                                   transitions=[True, True, True, False], patch_size=4, window_sizes=[8, 4, 4, 2])),
                    (4, 8, 16, 32)),
}

# name -> full archs whose construction (not forward) is checked: the variant tables themselves.
FULL_ARCHS = {
    'coc': ('mmvg.ContextCluster', ['tiny', 'tiny2', 'tiny_plain', 'small', 'medium', 'base_dim64',
                                    'base_dim96']),
    'pvig': ('mmvg.PyramidViG', ['tiny', 'small', 'medium', 'base']),
    'convmixer': ('mmvg.ConvMixer', ['1536/20', '768/32', '1024/20']),
    'pyramid_convmixer': ('mmvg.PyramidConvMixer', ['tiny', 'small', 'medium']),
    'vip': ('mmvg.VisionPermutator', ['s14', 's7', 'm7', 'l7', 'tiny', 'small', 'medium']),
}


def case_params():
    return [pytest.param(name, id=name) for name in BACKBONE_CASES]
