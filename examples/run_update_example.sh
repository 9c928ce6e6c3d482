#!/usr/bin/env bash
# examples/run_update_example.sh <app_update|wechat_update> [bin-dir]
#
# Publishes release 1.1 of an update example into a "server" folder (its
# releases/1.1 zipped, then `lutool release`) and runs the game twice on a
# fresh save directory, downloading through a file:// URL (no server
# needed; --set update.url=http://... works the same against a web server).
# The first run checks, downloads, applies and restarts on 1.1; the second
# starts on 1.1. Needs tools/build first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
example=${1:?usage: examples/run_update_example.sh <app_update|wechat_update> [bin-dir]}
game="$here/$example"
bin=${2:-$root/build/bin}
[ -f "$game/game.project" ] || { echo "no example '$example'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/server"
(cd "$game/releases/1.1" && zip -X -q -r "$work/server/content.zip" .)
"$bin/lutool" release "$work/server" --version 1.1 >/dev/null
url="file://$work/server/release.json"
for run in 1 2; do
    echo "-- run $run"
    "$bin/lurun" "$game" --save-dir "$work/save" --set "update.url=$url" --frames 3000 2>/dev/null
done
