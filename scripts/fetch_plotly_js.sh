#!/usr/bin/env bash
# make plotly-js: fetch the plotly.js bundle the page serves (vendor/) again from the npm
# registry, at the package, version and npm integrity recorded in vendor/plotly.js.json,
# and refuse it when the tarball's sha512 differs. To move to another version, change version
# and integrity there (`npm view PACKAGE@VERSION dist.integrity`), run this, then `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
meta=vendor/plotly.js.json
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
spec="$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["package"] + "@" + m["version"])' "$meta")"
(cd "$tmp" && npm pack --silent "$spec" >/dev/null)
python3 - "$meta" "$tmp" <<'PY'
import base64, hashlib, json, pathlib, sys
meta = json.load(open(sys.argv[1]))
tarball = next(pathlib.Path(sys.argv[2]).glob("*.tgz")).read_bytes()
got = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
if got != meta["integrity"]:
    sys.exit(f"plotly-js: integrity mismatch for {meta['package']}@{meta['version']}: {got}")
PY
tar -xzf "$tmp"/*.tgz -C "$tmp"
file="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["file"])' "$meta")"
cp "$tmp/package/$file" "vendor/$file"
cp "$tmp/package/LICENSE" vendor/plotly.js-LICENSE.txt
sha="$(sha256sum "vendor/$file" | cut -d' ' -f1)"
python3 - "$meta" "$sha" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
meta["sha256"] = sys.argv[2]
open(sys.argv[1], "w").write(json.dumps(meta, indent=2) + "\n")
PY
echo "plotly-js: $spec verified; vendor/$file sha256 $sha"
