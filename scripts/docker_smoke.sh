#!/usr/bin/env bash
# make docker-smoke: build the real ./Dockerfile and run the image for real, without a Docker
# engine (buildah, as root; see shared/TESTING.md, "Docker images without a Docker engine").
#
#   1. base: debian:bookworm-slim made by debootstrap when buildah has no such image (the
#      debootstrap root is cached under /var/tmp and reused)
#   2. build: buildah bud --format docker (keeps HEALTHCHECK); when this machine's pip reaches
#      the package index through a TLS proxy (pip config names a cert), that CA bundle and a
#      pip.conf pointing at it are mounted for the build only, never baked into the image
#   3. run: the image's own CMD as the image's USER with PORT set to a free port; checks
#      /api/v1/health and / from the host, the image's HEALTHCHECK inside the container (passes
#      while serving, fails once stopped), and that the user is numeric and not root
#
# Environment: SMOKE_IMAGE (default localhost/bptt-studio:smoke), SMOKE_ROOTFS_CACHE (default
# /var/tmp/bptt-studio-debootstrap), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${SMOKE_IMAGE:-localhost/bptt-studio:smoke}"
BASE="docker.io/library/debian:bookworm-slim"
CACHE="${SMOKE_ROOTFS_CACHE:-/var/tmp/bptt-studio-debootstrap}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBOOTSTRAP_TIMEOUT=600  # seconds; about 30-60 s when the mirror answers
BUILD_TIMEOUT=900        # seconds; about 1-2 min uncached
HEALTHY_TIMEOUT="${SMOKE_HEALTHY_TIMEOUT:-60}"  # seconds from start to a healthy /api/v1/health
CHECK_TIMEOUT=30         # seconds for one HEALTHCHECK or id run inside the container

B=(buildah --storage-driver vfs)
T0=$SECONDS
WORK="$(mktemp -d /tmp/bptt-smoke.XXXXXX)"
CTR=""
SERVER_PID=""
BG_PID=""
TIMINGS=()

log() { printf 'docker-smoke: %s\n' "$*"; }
fail() {
  printf 'docker-smoke: FAIL: %s\n' "$*" >&2
  if [ -s "$WORK/server.log" ]; then
    printf 'docker-smoke: last lines of the container output:\n' >&2
    tail -n 40 "$WORK/server.log" >&2
  fi
  exit 1
}
now() { printf '%s' "$EPOCHREALTIME"; }
# timing LABEL START: seconds since START (a value of now), to a tenth.
timing() {
  local s
  s="$(python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$2" "$(now)")"
  TIMINGS+=("$(printf '%-20s %6s s' "$1" "$s")")
  log "$1: $s s"
}

# bounded SECONDS LOG CMD...: CMD under timeout with its output in LOG, waited for in the
# background so that a signal reaches the traps at once (cleanup then stops CMD).
bounded() {
  local limit=$1 out=$2 rc=0
  shift 2
  timeout "$limit" "$@" >"$out" 2>&1 &
  BG_PID=$!
  wait "$BG_PID" || rc=$?
  BG_PID=""
  return "$rc"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  local status=$?
  if [ -n "$BG_PID" ]; then
    kill -TERM "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
  fi
  stop_server
  if [ -n "$CTR" ]; then
    "${B[@]}" rm "$CTR" >/dev/null 2>&1 || log "warning: could not remove container $CTR"
  fi
  rm -rf "$WORK"
  if [ "$status" -eq 0 ]; then
    log "PASS ($((SECONDS - T0)) s)"
  else
    printf 'docker-smoke: FAIL (exit %s after %d s)\n' "$status" "$((SECONDS - T0))" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- preconditions -------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "run as root (buildah with the vfs driver and debootstrap need it)"
command -v buildah >/dev/null 2>&1 || fail "'buildah' not found (apt-get install -y buildah debootstrap)"
for tool in python3 setsid timeout ps; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found"
done
case "$CACHE" in /*/*) ;; *) fail "SMOKE_ROOTFS_CACHE must be a dedicated absolute folder, not '$CACHE'" ;; esac

# ---- 1. base image -------------------------------------------------------------------------
t=$(now)
if "${B[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  log "base $BASE present"
else
  command -v debootstrap >/dev/null 2>&1 || fail "'debootstrap' not found (apt-get install -y debootstrap)"
  if [ ! -f "$CACHE/complete" ]; then
    log "base: debootstrap --variant=minbase bookworm into $CACHE/rootfs (once per machine)"
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    if ! bounded "$DEBOOTSTRAP_TIMEOUT" "$CACHE/debootstrap.log" \
      debootstrap --variant=minbase bookworm "$CACHE/rootfs" "$MIRROR"; then
      tail -n 20 "$CACHE/debootstrap.log" >&2
      fail "debootstrap failed or took more than $DEBOOTSTRAP_TIMEOUT s (log: $CACHE/debootstrap.log)"
    fi
    R="$CACHE/rootfs"
    # What the official slim image does on top of minbase: the release, its updates and its
    # security archive as apt sources; no docs, man pages or translations; no apt caches.
    rm -f "$R/etc/apt/sources.list"
    cat >"$R/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    mkdir -p "$R/etc/dpkg/dpkg.cfg.d"
    cat >"$R/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    cat >"$R/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    find "$R/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$R/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/locale/* \
      "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb \
      "$R"/var/log/*.log "$R"/var/log/apt/*
    touch "$CACHE/complete"
    timing "debootstrap" "$t"
  else
    log "base: reusing the debootstrap root in $CACHE/rootfs"
  fi
  t=$(now)
  base_ctr="$("${B[@]}" from scratch)"
  mnt="$("${B[@]}" mount "$base_ctr")"
  cp -a "$CACHE/rootfs/." "$mnt/"
  "${B[@]}" umount "$base_ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' --os linux --arch amd64 "$base_ctr"
  "${B[@]}" commit --quiet --format docker "$base_ctr" "$BASE" >/dev/null
  "${B[@]}" rm "$base_ctr" >/dev/null
  timing "base image commit" "$t"
fi

# ---- 2. build ------------------------------------------------------------------------------
# This machine's pip may reach the index only through a TLS proxy with its own CA. Its pip
# config also names local find-links/extra-index folders; the build does not need them (the
# index itself is reachable), so they are not mounted and the image resolves from the index.
mounts=()
pip_cmd=()
if command -v pip >/dev/null 2>&1; then pip_cmd=(pip); else pip_cmd=(python3 -m pip); fi
cert="$("${pip_cmd[@]}" config list 2>/dev/null | sed -n "s/^[^=]*\.cert='\(.*\)'\$/\1/p" | head -n 1 || true)"
if [ -n "$cert" ]; then
  [ -f "$cert" ] || fail "pip config names the cert $cert, which does not exist"
  # One read-only folder at pip's site config location (/etc/xdg/pip/pip.conf): the bundle and
  # a pip.conf naming it. Only an empty mount-point folder is left in the image.
  mkdir -p "$WORK/pip"
  cp "$cert" "$WORK/pip/host-ca.crt"
  printf '[global]\ncert = /etc/xdg/pip/host-ca.crt\n' >"$WORK/pip/pip.conf"
  mounts+=(-v "$WORK/pip:/etc/xdg/pip:ro")
  log "build: pip config names the cert $cert; mounting it for the build only"
fi

# No --layers: with the vfs driver every cached layer is a full copy of the file system, which
# made a build with code changes slower (about 70 s) than building in one go (about 50 s).
old_id="$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)"
t=$(now)
log "build: buildah bud -t $IMAGE ."
if ! bounded "$BUILD_TIMEOUT" "$WORK/build.log" \
  "${B[@]}" bud --format docker --isolation chroot "${mounts[@]}" -t "$IMAGE" .; then
  tail -n 40 "$WORK/build.log" >&2
  fail "build failed or took more than $BUILD_TIMEOUT s"
fi
grep -E '^STEP' "$WORK/build.log" | sed 's/^/  /' || true
timing "build" "$t"
# The image this tag named before is now unnamed: a full copy with vfs, so remove it (only it).
new_id="$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$IMAGE")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  "${B[@]}" rmi "$old_id" >/dev/null 2>&1 || true
fi

# ---- 3. run --------------------------------------------------------------------------------
"${B[@]}" inspect --type image "$IMAGE" >"$WORK/inspect.json"
python3 - "$WORK/inspect.json" "$WORK" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
cfg = (info.get("Docker") or {}).get("config") or {}
out = sys.argv[2]
cmd = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
test = (cfg.get("Healthcheck") or {}).get("Test") or []
if test and test[0] == "CMD-SHELL":
    test = ["/bin/sh", "-c", test[1]]
elif test and test[0] == "CMD":
    test = test[1:]
else:
    test = []
for name, words in (("cmd", cmd), ("healthcheck", test)):
    with open(f"{out}/{name}", "w") as f:
        f.write("".join(w + "\0" for w in words))
open(f"{out}/user", "w").write(cfg.get("User") or "")
print("docker-smoke: image CMD:", json.dumps(cmd))
print("docker-smoke: image USER:", cfg.get("User") or "(none: root)")
print("docker-smoke: image HEALTHCHECK:", json.dumps(test) if test else "(none)")
PY
mapfile -d '' CMD <"$WORK/cmd"
mapfile -d '' HEALTHCHECK <"$WORK/healthcheck"
USER_SPEC="$(cat "$WORK/user")"
[ "${#CMD[@]}" -gt 0 ] || fail "the image has no CMD"
[ "${#HEALTHCHECK[@]}" -gt 0 ] || fail "the image has no HEALTHCHECK (or it was lost: build with --format docker)"
[[ "$USER_SPEC" =~ ^[0-9]+(:[0-9]+)?$ ]] || fail "USER '$USER_SPEC' is not numeric uid[:gid]"
UID_WANT="${USER_SPEC%%:*}"
[ "$UID_WANT" -ne 0 ] || fail "USER is root"

VERSION_WANTED="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
CTR="$("${B[@]}" from --name "bptt-smoke-$$" "$IMAGE")"
"${B[@]}" config --env "PORT=$PORT" "$CTR"

# Once, on a machine whose base image had just been made, this printed nothing with status 0
# (not seen again); so an empty answer is asked again, up to three times, and what the
# container said on standard error is shown if it stays empty.
uid_inside=""
for attempt in 1 2 3; do
  uid_inside="$(timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- id -u \
    2>"$WORK/id.err")" || fail "could not run 'id -u' in the container: $(cat "$WORK/id.err")"
  [ -n "$uid_inside" ] && break
  log "'id -u' in the container printed nothing (attempt $attempt): $(cat "$WORK/id.err")"
  sleep 1
done
[ "$uid_inside" = "$UID_WANT" ] || fail "the container runs as uid '$uid_inside', not $UID_WANT"
log "user: numeric $USER_SPEC, 'id -u' inside the container says $uid_inside"
# The build-time CA bundle and pip.conf must not have been baked into the image.
# shellcheck disable=SC2016  # $(...) is for the container's shell, not this one
timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- /bin/sh -c \
  '[ -z "$(ls -A /etc/xdg/pip 2>/dev/null)" ] && [ ! -s /etc/pip.conf ]' \
  || fail "the image carries a pip config or CA bundle from the build"
log "image: no pip config or CA bundle left from the build"

# The installed set is the lock's, and the app is the wheel's (site-packages), not a source tree.
# shellcheck disable=SC2016  # the program is for the container's Python
timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- python -c '
import importlib.metadata as m, bptt_studio
for d in m.distributions():
    print(d.metadata["Name"].lower().replace("_", "-") + "==" + d.version)
print("module", bptt_studio.__file__)' >"$WORK/installed.txt" \
  || fail "could not list the packages installed in the image"
python3 - "$WORK/installed.txt" requirements/run.txt "$VERSION_WANTED" <<'PY' || fail "the image does not hold exactly the locked runtime set and the wheel"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
module = next(l for l in lines if l.startswith("module ")).split(" ", 1)[1]
installed = {l for l in lines if "==" in l}
pins = {f"{m.group(1).lower().replace('_', '-')}=={m.group(2)}"
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", open(sys.argv[2]).read(), re.M)}
wanted = pins | {f"bptt-studio=={sys.argv[3]}"}
assert installed == wanted, f"not in the lock: {sorted(installed - wanted)}; missing: {sorted(wanted - installed)}"
assert module.startswith("/opt/venv/lib/") and "/site-packages/bptt_studio/" in module, module
print(f"docker-smoke: the image holds the {len(pins)} locked runtime packages and bptt-studio {sys.argv[3]} (from the wheel: {module})")
PY
timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- /bin/sh -c \
  '! [ -e /src ] && ! command -v pip >/dev/null && ! [ -e /opt/venv/bin/pip ]' \
  || fail "the final image carries the build stage's sources or pip"
log "image: no sources, no pip; only Debian's Python and /opt/venv"

t=$(now)
log "run: the image's CMD with PORT=$PORT (the container shares the host network)"
# Its own session and process group, so that cleanup ends everything it started.
setsid "${B[@]}" run --isolation chroot "$CTR" -- "${CMD[@]}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

python3 - "$PORT" "$HEALTHY_TIMEOUT" "$SERVER_PID" <<'PY' || fail "the server did not become healthy on port $PORT within $HEALTHY_TIMEOUT s"
import json, os, sys, time, urllib.request
port, limit, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + limit
url = f"http://127.0.0.1:{port}/api/v1/health"
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("docker-smoke: the container process exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            print(f"docker-smoke: GET {url} -> {r.status} {json.load(r)}")
            sys.exit(0)
    except OSError:
        time.sleep(0.25)
sys.exit(1)
PY
timing "start to healthy" "$t"

VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
python3 - "$PORT" "$VERSION" <<'PY' || fail "the app's answers from the host are wrong"
import json, re, sys, urllib.request
port, version = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
with urllib.request.urlopen(base + "/api/v1/health", timeout=5) as r:
    body = json.load(r)
assert r.status == 200 and body == {"status": "ok", "version": version}, body
with urllib.request.urlopen(base + "/", timeout=10) as r:
    page = r.read().decode()
    ctype = r.headers.get("Content-Type", "")
assert r.status == 200 and ctype.startswith("text/html"), (r.status, ctype)
assert "BPTT Studio" in page, "the page does not name the product"
# the page's own static assets (templates/ and static/ are found inside the image)
links = re.findall(r'(?:href|src)="(?:http://[^/"]+)?(/[^"?#]*)', page)
assets = sorted({path for path in links if path.startswith(("/static/", "/vendor/"))})[:10]
for path in assets:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        assert r.status == 200 and r.read(), path
print(f"docker-smoke: GET / -> 200 {ctype}; {len(assets)} assets of the page -> 200: "
      + " ".join(assets))
# plotly.js, which the page loads on demand (not named in the HTML)
with urllib.request.urlopen(base + "/vendor/plotly.min.js", timeout=10) as r:
    body = r.read()
assert r.status == 200 and body.startswith(b"/**\n* plotly.js") and len(body) > 1_000_000
print(f"docker-smoke: GET /vendor/plotly.min.js -> 200, {len(body)} bytes")
# a computation, in the image's computation processes (forked by its fork server as the
# image's user)
request = urllib.request.Request(base + "/api/v1/trace", data=b'{"hidden_size": 3}',
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as r:
    trace = json.load(r)
assert r.status == 200 and trace["sizes"]["H"] == 3, r.status
print("docker-smoke: POST /api/v1/trace -> 200, computed in a computation process")
PY

# The server process really runs as the image's user (the container shares the host's pids).
server_uids="$(ps -o uid= --sid "$SERVER_PID" 2>/dev/null | sort -u | tr -d ' ' | tr '\n' ' ')"
log "processes of the container's group run as uid(s): $server_uids"
echo " $server_uids" | grep -q " $UID_WANT " || fail "no process of the container runs as uid $UID_WANT"

timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- "${HEALTHCHECK[@]}" \
  >"$WORK/hc.log" 2>&1 || { cat "$WORK/hc.log" >&2; fail "the HEALTHCHECK failed while the server was healthy"; }
log "HEALTHCHECK inside the container: passes while serving"

stop_server
if timeout "$CHECK_TIMEOUT" "${B[@]}" run --isolation chroot "$CTR" -- "${HEALTHCHECK[@]}" \
  >"$WORK/hc-down.log" 2>&1; then
  fail "the HEALTHCHECK passed with the server stopped: it checks nothing"
fi
log "HEALTHCHECK inside the container: fails once the server is stopped (as it should)"

size="$("${B[@]}" images --format '{{.Size}}' "$IMAGE" 2>/dev/null | head -n 1 || true)"
log "image $IMAGE: ${size:-size unknown}"
log "timings:"
printf '  %s\n' "${TIMINGS[@]}"
