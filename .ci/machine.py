"""One line saying where CI ran: CPU model, torch's threads, the ISA level torch dispatches to, oneDNN.

Float results differ in the last bits between CPUs (oneDNN picks other kernels per ISA), so a CI log
should say which CPU it came from.
"""

from __future__ import annotations

import os
import re

import torch

from core.machine import cpu_model


def main() -> None:
    onednn = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    print(
        f"machine: {cpu_model()} | {os.cpu_count()} CPUs | torch {torch.__version__}, {torch.get_num_threads()} threads "
        f"({torch.get_num_interop_threads()} inter-op) | ISA {torch.backends.cpu.get_cpu_capability()} | "
        f"oneDNN {onednn[1] if onednn else 'version unknown'}{'' if torch.backends.mkldnn.is_available() else ' (unavailable)'} | "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )


if __name__ == "__main__":
    main()
