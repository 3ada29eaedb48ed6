"""Test-suite settings: one torch thread (the tensors are small; extra threads only contend on 2 cores)."""

import torch

torch.set_num_threads(1)
