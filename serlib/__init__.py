"""serlib: the thin helper library behind the noise-robust SER notebooks.

One concept, one module (see DESIGN.md section 3):

- :mod:`serlib.audio`      read audio to mono float32, validate it
- :mod:`serlib.corpora`    corpus manifests (embedded synthetic corpus + real-corpus loaders)
- :mod:`serlib.noise`      noise banks, SNR mixing, noisy conditions, room re-recording
- :mod:`serlib.features`   openSMILE functionals, log-mel, spectrograms, with a resumable cache
- :mod:`serlib.protocols`  speaker-independent splits
- :mod:`serlib.metrics`    UAR, WAR, F1, CCC, WER, confidence intervals, tests
- :mod:`serlib.training`   the one training loop for torch models
- :mod:`serlib.results`    tidy results beside the papers' numbers
- :mod:`serlib.papers`     the papers' numbers and claims (serlib/reference/*.yaml)
- :mod:`serlib.ledger`     the claims ledger: claims decided by paired statistics
- :mod:`serlib.report`     the README's results block and results/summary.md
- :mod:`serlib.plots`      figures
- :mod:`serlib.profiles`   smoke / quick / paper settings per notebook
- :mod:`serlib.run`        the papermill batch runner
"""

__version__ = "0.1.0"

from serlib import cpu as _cpu

_cpu.pin()  # before torch loads: the same CPU kernels, so the same numbers, on every x86 machine (serlib.cpu)
