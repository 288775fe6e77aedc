"""Models of the five papers, one module per paper, plus shared baselines.

- :mod:`serlib.models.edrl_mea`          paper 1: emotion-disentangled blocks + multiblock PLS alignment
- :mod:`serlib.models.ladder`            paper 2: dense, ladder and decoupled ladder networks
- :mod:`serlib.models.trnet`             paper 3: SER module, SNR-aware compensation, FiLM bridge
- :mod:`serlib.models.densenet_highway`  paper 5: DenseNet + LSTM + highway network
- :mod:`serlib.models.baselines`         CNN, CNN-LSTM, DenseNet, DenseNet-LSTM benchmarks

Import the module you need (``from serlib.models import trnet``); nothing is imported eagerly.
"""
