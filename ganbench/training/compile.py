"""``train.compile``: torch.compile of G and D where the backend works, eager with a warning where it does not."""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn


@functools.cache
def compile_unavailable(device: str) -> str | None:
    """Why torch.compile cannot run on ``device`` here (no C++ compiler, no Triton, ...), or None if it can:
    a tiny function is compiled and run once, since backends fail at the first call, not at ``torch.compile``."""
    try:
        probe = torch.compile(lambda x: torch.relu(x) * 2 + 1, dynamic=False)
        probe(torch.ones(4, device=device))
    except Exception as error:  # any backend failure means: run eager
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return None


def compile_models(device: torch.device, *modules: nn.Module) -> bool:
    """Compile each module in place (``nn.Module.compile``: state_dict keys and checkpoints stay as they are);
    returns whether they were compiled."""
    reason = compile_unavailable(str(device))
    if reason is not None:
        warnings.warn(f"train.compile: torch.compile is unavailable on {device} ({reason}); training eager",
                      RuntimeWarning, stacklevel=2)
        return False
    # The simultaneous update runs two backward passes through D's graph (retain_graph), which buffers that a
    # compiled backward donates to its outputs would not survive.
    torch._functorch.config.donated_buffer = False
    for module in modules:
        module.compile()
    return True
