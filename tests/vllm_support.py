"""Helpers for the tests and benchmarks that run a real vLLM on the tiny LLaVA (CPU).

- :func:`vllm_available` says whether vLLM imports here (it lives in ``.venv-vllm``, built
  by ``.ci/vllm-env.sh``), mending torchvision first when its operators do not load.
- :func:`build_vllm_model` builds the tiny LLaVA (:mod:`refaug.testing.tiny_llava`, which
  already saves the weights in the hub layout vLLM 0.32 wants: ``vision_tower.vision_model.*``
  where transformers 5 writes ``vision_tower.*``) and checks that layout.
- :func:`vllm_environment` is the environment vLLM needs on a small CPU node, with every
  cache inside one folder.
- :class:`VLLMServer` runs ``vllm.entrypoints.openai.api_server`` as a subprocess, waits for
  ``/health`` and always stops it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# The engine settings the trial found to work on a 2-core CPU node.
CPU_ENGINE_OPTIONS: dict[str, Any] = {
    "dtype": "float32",
    "max_model_len": 2048,
    "enforce_eager": True,
}


def vllm_available() -> tuple[bool, str]:
    """Whether ``vllm`` imports here, and if not, why (a reason for ``pytest.skip``)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False, (
            "vllm is not installed in this environment; build it with `bash .ci/vllm-env.sh` "
            "and run `.venv-vllm/bin/python -m pytest -m vllm`"
        )
    from refaug.errors import BackendError
    from refaug.views.backends.vllm import import_vllm

    try:
        import_vllm()
    except BackendError as error:
        return False, str(error)
    return True, ""


def build_vllm_model(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Build the tiny LLaVA into ``folder`` and check that vLLM can map its weights.

    Raises:
        RuntimeError: the CLIP weights are not saved as ``vision_tower.vision_model.*``
            (vLLM 0.32 fails with ``There is no module or parameter named
            'vision_tower.embeddings'``).
    """
    from safetensors import safe_open

    from refaug.testing.tiny_llava import build_tiny_llava

    path = build_tiny_llava(folder, seed=seed)
    with safe_open(str(path / "model.safetensors"), "pt") as weights:
        vision = [k for k in weights.keys() if k.startswith("vision_tower.")]  # noqa: SIM118
    misplaced = [k for k in vision if not k.startswith("vision_tower.vision_model.")]
    if not vision or misplaced:
        raise RuntimeError(f"vLLM wants vision_tower.vision_model.* weights; found {misplaced[:3]}")
    return path


def vllm_environment(folder: str | os.PathLike[str]) -> dict[str, str]:
    """The variables vLLM needs on this CPU node, every cache and temp file under ``folder``."""
    root = Path(folder)
    paths = {
        name: root / name.lower()
        for name in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "TMPDIR")
    }
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    return {
        # The node reports less memory than vLLM's default KV cache wants; 1 GiB is plenty.
        "VLLM_CPU_KVCACHE_SPACE": "1",
        # The engine core in-process: faster start-up, one process to clean up.
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **{name: str(path) for name, path in paths.items()},
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VLLMServer:
    """``vllm.entrypoints.openai.api_server`` in a subprocess, on 127.0.0.1.

    Args:
        model: the model folder.
        folder: where caches, temp files and the server's log go.
        served_model_name: the name clients use (default: the folder's name).
        startup_timeout: seconds to wait for ``/health`` (default 240).
        extra_args: more command-line options for the server.

    Example:
        >>> with VLLMServer(model_dir, tmp_path) as server:  # doctest: +SKIP
        ...     OpenAIBackend(server.model_name, base_url=server.base_url, api_key_env=None)
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        folder: str | os.PathLike[str],
        *,
        served_model_name: str | None = None,
        startup_timeout: float = 240.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.model = str(model)
        self.folder = Path(folder)
        self.model_name = served_model_name or Path(model).name
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = self.folder / "server.log"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        options = CPU_ENGINE_OPTIONS
        # This file is the launcher: see the bottom of it.
        return [sys.executable, str(Path(__file__).resolve())] + [
            "--model", self.model,
            "--served-model-name", self.model_name,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--dtype", options["dtype"],
            "--max-model-len", str(options["max_model_len"]),
            "--enforce-eager",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> VLLMServer:
        """Start the server and wait until ``/health`` answers 200.

        Raises:
            RuntimeError: the server exited or did not become healthy in time; the message
                ends with the tail of its log.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **vllm_environment(self.folder)}
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_healthy(started)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        logger.info("vLLM server ready on port %d in %.1f s", self.port, self.startup_seconds)
        return self

    def _wait_healthy(self, started: float) -> None:
        url = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() - started < self.startup_timeout:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"the vLLM server exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"the vLLM server was not healthy after {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        """Stop the server (SIGTERM to its process group, then SIGKILL after ``grace`` s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve() -> None:
    """Run vLLM's OpenAI-compatible server with this process's arguments."""
    import runpy

    # alter_sys=False keeps this file as __main__, so that the engine-core process vLLM
    # spawns (the CPU platform always spawns) re-runs this file, and so the mend below,
    # before it unpickles anything from vLLM.
    runpy.run_module("vllm.entrypoints.openai.api_server", run_name="__main__", alter_sys=False)


if __name__ in ("__main__", "__mp_main__"):
    # `python tests/vllm_support.py --model DIR ...` is `python -m vllm.entrypoints.openai.api_server
    # --model DIR ...` with torchvision mended first where its operators do not load.
    from refaug.views.backends.vllm import import_vllm

    import_vllm()
    if __name__ == "__main__":
        _serve()
