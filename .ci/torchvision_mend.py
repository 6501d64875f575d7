"""Installed into the CPU vLLM test environment (.venv-vllm) by .ci/vllm-env.sh, with a .pth line
that imports it at interpreter start.

PyPI's torchvision 0.28.0 does not load its compiled operators against torch 2.13.0+cpu, so
``import torchvision`` fails with ``operator torchvision::nms does not exist``. refaug mends that
in its own process (``refaug.torchvision_mend.ensure_torchvision_importable``), but vLLM and
Ray start fresh interpreters of their own (vLLM's engine-core process under ``ray.data.llm``,
its model inspection). This finder runs the same mend in every interpreter of the environment,
just before torchvision is first imported; it costs nothing until then. A GPU box with a
torchvision built for its torch never needs it.
"""

import sys


class _MendTorchvision:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(cls)
            try:
                from refaug.torchvision_mend import ensure_torchvision_importable

                ensure_torchvision_importable()
            except Exception as error:  # the import that follows shows the real failure
                print(f"torchvision mend failed: {error!r}", file=sys.stderr)
        return None


sys.meta_path.insert(0, _MendTorchvision)
