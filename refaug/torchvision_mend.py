"""Let torchvision's pure-Python parts import when its compiled operators do not load.

Kept free of refaug's other imports (and of ``datasets``), so that it can run while another
library is importing torchvision: the CPU vLLM test environment calls it from an import hook
in every fresh interpreter (``.ci/torchvision_mend.py``), and the ``vllm`` backend and the Ray
workers call it before importing vLLM.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# torch.library fragments that stand in for torchvision's compiled operators; kept alive here.
_TORCHVISION_STAND_INS: list[Any] = []
# The schemas torchvision's _meta_registrations registers fake kernels for unconditionally.
_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}


def ensure_torchvision_importable() -> bool:
    """Let torchvision's pure-Python parts import when its compiled operators do not load.

    vLLM's LLaVA path imports a transformers image processor that imports
    ``torchvision.transforms.v2``. When torchvision's ``_C`` library does not match the
    installed torch (PyPI's torchvision 0.28.0 next to ``torch==2.13.0+cpu``),
    ``import torchvision`` fails with ``operator torchvision::nms does not exist``, because
    it registers fake kernels for ``nms`` and ``qnms`` unconditionally. This defines those
    two operator schemas (no kernels: calling them still fails loudly) so the import works.
    It does nothing when torchvision is absent, already imported, or its operators load.

    Returns:
        True when the stand-in schemas were registered.
    """
    if "torchvision" in sys.modules:
        return False
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return False
    import torch

    if _torchvision_ops_present(torch) or _load_torchvision_ops(torch, Path(spec.origin).parent):
        return False
    library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _TORCHVISION_SCHEMAS.values():
        library.define(schema)
    _TORCHVISION_STAND_INS.append(library)
    logger.warning(
        "torchvision's compiled operators do not load against torch %s; registered stand-in "
        "schemas for %s so that its pure-Python parts import",
        torch.__version__,
        ", ".join(_TORCHVISION_SCHEMAS),
    )
    return True


def _torchvision_ops_present(torch: Any) -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018 (the lookup is the test)
    except (AttributeError, RuntimeError):
        return False
    return True


def _load_torchvision_ops(torch: Any, folder: Path) -> bool:
    for library in sorted(folder.glob("_C*.so")) + sorted(folder.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(library))
        except (ImportError, OSError) as error:
            logger.debug("torchvision's %s does not load: %s", library.name, error)
            return False
        return _torchvision_ops_present(torch)
    return False
