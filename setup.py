from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('mmvg/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmvg',
    version=version(),
    description='Pyramid ViG, ViP, ConvMixer and Context Clusters as OpenMMLab dense-prediction backbones',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=[
        'torch>=1.13',
        'mmengine>=0.10,<1',
        'mmcv>=2.0,<2.3',
        'timm>=0.9',
        'numpy',
        'filelock',
    ],
    extras_require={
        'det': ['mmdet>=3.1,<4', 'pycocotools'],
        'seg': ['mmsegmentation>=1.1,<2', 'ftfy', 'regex'],
        'cls': ['mmpretrain>=1.0,<2'],
        'vis': ['grad-cam>=1.4'],  # tools/visualization/gradcam.py, vis_pvig_graph.py (node by Grad-CAM)
        'all': ['mmdet>=3.1,<4', 'pycocotools', 'mmsegmentation>=1.1,<2', 'ftfy', 'regex', 'mmpretrain>=1.0,<2',
                'grad-cam>=1.4'],
        'tests': ['pytest', 'pytest-timeout', 'hypothesis'],
    },
    zip_safe=False,
)
