#!/usr/bin/env python3
"""Writes tests/fixtures/torch/mlp.pt: a small TorchScript module (Linear 4 -> 8, tanh, Linear 8 -> 2, fixed seed) for
the LibTorch backend's test of torch::jit::load, and prints its outputs on a fixed input, which the test checks.
Run with Debian's python3-torch: /usr/bin/python3 scripts/gen_torchscript_fixture.py"""
import pathlib

import torch


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


torch.manual_seed(0)
out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/torch/mlp.pt"
out.parent.mkdir(parents=True, exist_ok=True)
torch.jit.script(Mlp()).save(str(out))
x = torch.arange(8, dtype=torch.float32).view(2, 4) / 8
print(torch.jit.load(str(out))(x).tolist())
