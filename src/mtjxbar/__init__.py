"""mtjxbar: in-situ stochastic training of neural networks on simulated binary MTJ crossbar arrays."""

__version__ = "0.1.0"
