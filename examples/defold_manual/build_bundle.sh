#!/usr/bin/env bash
# build_bundle.sh OUT -- a bundle of this example made with Info-ZIP, as the
# bundler will make it: OUT/game.project (http_url pointing at
# OUT/liveupdate), OUT/game.zip (everything but level1, plus the manifest)
# and OUT/liveupdate/liveupdate.zip (level1 and its version file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
rm -rf "$out"
mkdir -p "$out/liveupdate" "$out/.stage/base" "$out/.stage/lu"
out=$(cd "$out" && pwd)
cp -r "$here/content/main" "$out/.stage/base/"
cp "$here/manifest.json" "$out/.stage/base/liveupdate.manifest.json"
cp -r "$here/content/level1" "$out/.stage/lu/"
cp "$here/version_liveupdate.json" "$out/.stage/lu/"
(cd "$out/.stage/base" && zip -X -q -r "$out/game.zip" .)
(cd "$out/.stage/lu" && zip -X -q -r "$out/liveupdate/liveupdate.zip" .)
sed "s|^http_url = .*|http_url = file://$out/liveupdate|" "$here/game.project" > "$out/game.project"
rm -rf "$out/.stage"
