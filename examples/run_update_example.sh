#!/usr/bin/env bash
# examples/run_update_example.sh <app_update|wechat_update> [bin-dir] [lurun options...]
#
# Publishes release 1.1 of an update example the way a studio publishes one
# (docs/BUNDLER.md, docs/UPDATES.md): the example's content/ with the files
# of its releases/1.1 laid over it, `lutool bundle`d, then `lutool release
# <bundle> --version 1.1 -o server` (server/ is what would be uploaded:
# release.json and game-<hash>.zip). Then runs the game (its folder, as
# shipped content 1.0) twice on a fresh save directory, downloading through
# a file:// URL: no server needed (--set update.url=http://... works the
# same against a web server). Options after the bin-dir go to both lurun
# runs, e.g. --set app.accept_update=0 (app_update: answer "later").
# Environment: RUNS (default 2) runs instead of two. Needs tools/build first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
example=${1:?usage: examples/run_update_example.sh <app_update|wechat_update> [bin-dir] [lurun options...]}
shift
game="$here/$example"
bin=$root/build/bin
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then bin=$1; shift; fi
[ -f "$game/game.project" ] || { echo "no example '$example'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The 1.1 sources: the game as shipped, with what changed in 1.1. Its
# [project] version stays: that is the store build's, and a hot release
# does not change the binary.
mkdir -p "$work/src"
cp "$game/game.project" "$work/src/"
cp -R "$game/content" "$work/src/content"
cp -R "$game/releases/1.1/." "$work/src/content/"
"$bin/lutool" bundle "$work/src" -o "$work/bundle" >/dev/null
"$bin/lutool" release "$work/bundle" --version 1.1 -o "$work/server" >/dev/null

url="file://$work/server/release.json"
for run in $(seq 1 "${RUNS:-2}"); do
    echo "-- run $run"
    "$bin/lurun" "$game" --save-dir "$work/save" --set "update.url=$url" --frames 3000 "$@" 2>/dev/null
done
