"""Interruptible modules: a pass stops at the next layer once its thread's check turns True."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from sambridge_server.engine.automatic.ais_decoder import AISDecoder, predict_window
from sambridge_server.engine.errors import Cancelled
from sambridge_server.engine.interrupt import interruptible, stops_when


def test_a_pass_stops_at_the_layer_after_the_check_turns_true():
    layers = interruptible(torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(10)]))
    ran = []
    for layer in layers:
        layer.register_forward_hook(lambda module, args, out: ran.append(module))
    x = torch.ones(1, 4)
    with stops_when(lambda: len(ran) >= 3), pytest.raises(Cancelled):
        layers(x)
    assert len(ran) == 3  # the fourth layer never ran
    assert layers(x).shape == (1, 4)  # outside the block (and in other threads) nothing is checked


def test_the_check_belongs_to_the_thread_that_installed_it():
    layers = interruptible(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)))
    other: list = []
    with stops_when(lambda: True):
        thread = threading.Thread(target=lambda: other.append(layers(torch.ones(1, 4))))
        thread.start()
        thread.join()
        with pytest.raises(Cancelled):
            layers(torch.ones(1, 4))
    assert other and other[0].shape == (1, 4)


def test_an_abandoned_ais_decoder_pass_ends_at_once():
    decoder = interruptible(AISDecoder().eval())  # a full 1024-px pass takes seconds on a CPU
    started = time.monotonic()
    with torch.inference_mode(), stops_when(lambda: time.monotonic() - started > 0.05), pytest.raises(Cancelled):
        predict_window(decoder, torch.zeros(1, 256, 64, 64))
    assert time.monotonic() - started < 3.0  # a layer or two, not the whole pass
