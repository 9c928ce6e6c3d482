#!/usr/bin/env bash
# tests/install/run.sh -- the install test (tools/test runs it after the
# release build): tools/install into a temporary prefix, then use the result
# the way a user would. It checks
#   - the installed file list, modes and links (the shared library under its
#     full version, libliveupdate.so.<major> and libliveupdate.so pointing to it);
#   - a second run changes nothing (same files, bytes, modes and times);
#   - `pkg-config --cflags --libs liveupdate` builds tests/install/mount_folder.c,
#     which mounts a folder and reads a file through it, against the shared
#     library (readelf: NEEDED libliveupdate.so.<major>; run with
#     LD_LIBRARY_PATH), and `pkg-config --static` builds it against
#     libliveupdate.a (Libs.private and Requires.private are complete);
#   - the shared library's SONAME, and that it exports only public lu_ names;
#   - the Lua module loads with stock lua5.4 from lib/lua/5.4;
#   - the tools run and their man pages render without warnings;
#   - --destdir stages every file under DESTDIR while the files name PREFIX;
#   - the rockspec installs the Lua module with luarocks, without a network.
# Writes only under $TMPDIR. The last line counts the checks.
set -euo pipefail
# No `cmd | grep -q`: grep -q exits at its match, the writer still writing
# gets SIGPIPE, and pipefail fails the check (it did, under load, on ldd).
# Output is taken whole first: grep -q ... <<< "$(cmd)".
cd "$(dirname "$0")/../.."
work=$(mktemp -d "${TMPDIR:-/tmp}/install_test.XXXXXX")
trap 'rm -rf "$work"' EXIT
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

version=$(sed -n 's/^#define LU_VERSION_STR "\([0-9.]*\)".*/\1/p' engine/include/liveupdate/liveupdate.h)
major=${version%%.*}
[ -n "$version" ] || fail "no LU_VERSION_STR"

# The files an install must hold, relative to the prefix ("path -> target"
# for links), sorted.
expected_list() {
    {
        for h in engine/include/liveupdate/*.h; do echo "include/liveupdate/${h##*/} 644"; done
        echo "lib/libliveupdate.a 644"
        echo "lib/libliveupdate.so.$version 755"
        echo "lib/libliveupdate.so.$major -> libliveupdate.so.$version"
        echo "lib/libliveupdate.so -> libliveupdate.so.$major"
        echo "lib/pkgconfig/liveupdate.pc 644"
        echo "lib/lua/5.4/liveupdate.so 755"
        for t in lutool lurun lubench; do echo "bin/$t 755"; echo "share/man/man1/$t.1 644"; done
    } | LC_ALL=C sort
}
# Everything about a tree that an install could change.
snapshot() {
    (cd "$1" && find . -printf '%p %y %m %l %T@\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# 1. --prefix: the file list.
prefix=$work/prefix
tools/install --prefix "$prefix" > "$work/install1.log" || { cat "$work/install1.log"; fail "tools/install --prefix"; }
diff <(expected_list) <(find "$prefix" -type l -printf '%P -> %l\n' -o ! -type d -printf '%P %m\n' | LC_ALL=C sort) ||
    fail "the installed files differ from the expected list (< expected, > installed)"
ok "tools/install --prefix: $(expected_list | wc -l) files and links, modes as expected"

# 2. Idempotent: a second run changes nothing, not even a time.
before=$(snapshot "$prefix")
tools/install --prefix "$prefix" > "$work/install2.log" || { cat "$work/install2.log"; fail "second tools/install"; }
[ "$before" = "$(snapshot "$prefix")" ] || fail "a second tools/install changed the tree"
grep -q "^tools/install: 0 file(s) installed or changed$" "$work/install2.log" ||
    { cat "$work/install2.log"; fail "the second run reports changes"; }
ok "a second run changes nothing (file list, modes, links, times, SHA-256)"
# A damaged file is put back, and only it.
echo damaged > "$prefix/include/liveupdate/liveupdate.h"
tools/install --prefix "$prefix" > "$work/install3.log"
cmp -s engine/include/liveupdate/liveupdate.h "$prefix/include/liveupdate/liveupdate.h" || fail "damaged header not repaired"
grep -q "^tools/install: 1 file(s) installed or changed$" "$work/install3.log" || { cat "$work/install3.log"; fail "repair count"; }
ok "a changed file is reinstalled, and only it"

# 3. The shared library: SONAME and exports.
so="$prefix/lib/libliveupdate.so.$version"
grep -q "(SONAME) *Library soname: \[libliveupdate.so.$major\]" <<< "$(readelf -d "$so")" || fail "no SONAME libliveupdate.so.$major"
nm -D --defined-only "$so" | awk '{print $NF}' > "$work/exports"
[ "$(grep -c . "$work/exports")" -gt 50 ] || fail "too few exports"
grep -q '^lu_context_open$' "$work/exports" || fail "lu_context_open not exported"
if grep -v '^lu_[a-z0-9]' "$work/exports"; then fail "exports other than public lu_ names (above)"; fi
ok "SONAME libliveupdate.so.$major; $(wc -l < "$work/exports") exports, all public lu_ names"
# The Lua module: its two luaopen_ functions and public lu_ names, none of the library's lu__ ones.
nm -D --defined-only "$prefix/lib/lua/5.4/liveupdate.so" | awk '{print $NF}' > "$work/lua_exports"
for f in luaopen_liveupdate luaopen_liveupdate_resource; do
    grep -q "^$f\$" "$work/lua_exports" || fail "the Lua module does not export $f"
done
if grep -v -e '^lu_[a-z0-9]' -e '^luaopen_liveupdate$' -e '^luaopen_liveupdate_resource$' "$work/lua_exports"; then
    fail "the Lua module exports other names (above)"
fi
ok "the Lua module exports luaopen_liveupdate, luaopen_liveupdate_resource and $(grep -c '^lu_' "$work/lua_exports") public lu_ names only"

# 4. pkg-config, the shared link.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion liveupdate)" = "$version" ] || fail "pkg-config --modversion"
mkdir -p "$work/content/levels"
printf 'level one\n' > "$work/content/levels/one.txt"
cc -std=c11 -Wall -Werror -o "$work/app_shared" tests/install/mount_folder.c $(pkg-config --cflags --libs liveupdate) ||
    fail "cc with pkg-config --cflags --libs liveupdate"
grep -q "(NEEDED) *Shared library: \[libliveupdate.so.$major\]" <<< "$(readelf -d "$work/app_shared")" ||
    fail "app_shared does not need libliveupdate.so.$major"
grep -q "libliveupdate.so.$major => $prefix/lib/libliveupdate.so.$major" <<< "$(LD_LIBRARY_PATH=$prefix/lib ldd "$work/app_shared")" ||
    fail "app_shared does not load the installed shared library"
out=$(LD_LIBRARY_PATH=$prefix/lib "$work/app_shared" "$work/content" /levels/one.txt "$work/save_shared")
[ "$out" = "$(printf 'liveupdate %s\nlevel one' "$version")" ] || fail "app_shared printed: $out"
ok "pkg-config --cflags --libs: mount_folder built against libliveupdate.so.$major mounts a folder and reads through it"

# 5. pkg-config --static: the static link (the archive named, so the shared
# library beside it is not taken).
static_libs=$(pkg-config --static --libs liveupdate | sed 's/-lliveupdate\b/-l:libliveupdate.a/')
cc -std=c11 -Wall -Werror -o "$work/app_static" tests/install/mount_folder.c $(pkg-config --cflags liveupdate) $static_libs ||
    fail "cc with pkg-config --static --libs liveupdate: $static_libs"
if grep -q "libliveupdate" <<< "$(readelf -d "$work/app_static")"; then fail "app_static needs a shared libliveupdate"; fi
out=$("$work/app_static" "$work/content" /levels/one.txt "$work/save_static")
[ "$out" = "$(printf 'liveupdate %s\nlevel one' "$version")" ] || fail "app_static printed: $out"
ok "pkg-config --static --libs: mount_folder linked against libliveupdate.a runs"

# 6. The Lua module, found through the installed path only.
out=$(LUA_CPATH="$prefix/lib/lua/5.4/?.so" lua5.4 -e '
    local lu = require "liveupdate"
    print(lu._VERSION, package.searchpath("liveupdate", package.cpath))')
[ "$out" = "$(printf 'liveupdate %s\t%s' "$version" "$prefix/lib/lua/5.4/liveupdate.so")" ] || fail "lua5.4 require: $out"
out=$(LUA_CPATH="$prefix/lib/lua/5.4/?.so" lua5.4 -e 'print(type(require "liveupdate.resource"))')
[ "$out" = table ] || fail "lua5.4 require \"liveupdate.resource\" (the legacy API, in the same file): $out"
ok "lua5.4: require \"liveupdate\" and \"liveupdate.resource\" load $prefix/lib/lua/5.4/liveupdate.so"

# 7. The tools and their man pages.
for t in lutool lurun lubench; do
    [ "$("$prefix/bin/$t" --version)" = "$t (liveupdate) $version" ] || fail "$t --version"
done
grep -q "^usage: lubench" <<< "$("$prefix/bin/lubench" --help)" || fail "lubench --help"
for t in lutool lurun lubench; do
    page="$prefix/share/man/man1/$t.1"
    if command -v groff >/dev/null 2>&1; then
        warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
        [ -z "$warnings" ] || fail "$t.1: $warnings"
        grep -q "^NAME" <<< "$(LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$page" 2>/dev/null)" || fail "$t.1 renders no NAME section"
    elif command -v lexgrog >/dev/null 2>&1; then
        grep -q "$t" <<< "$(lexgrog "$page")" || fail "lexgrog $t.1"
    fi
    grep -q "^\.TH ${t^^} 1 .*\"liveupdate $version\"" "$page" || fail "$t.1: .TH does not say liveupdate $version"
done
ok "lutool, lurun and lubench --version say $version; lubench --help; the three man pages render"

# 8. --destdir: staged under DESTDIR, naming PREFIX.
stage=$work/stage
staged_prefix=/opt/liveupdate-install-test
[ ! -e "$staged_prefix" ] || fail "$staged_prefix exists already"
tools/install --prefix "$staged_prefix" --destdir "$stage" > "$work/install_destdir.log"
[ ! -e "$staged_prefix" ] || fail "--destdir wrote to $staged_prefix"
diff <(expected_list) <(find "$stage$staged_prefix" -type l -printf '%P -> %l\n' -o ! -type d -printf '%P %m\n' | LC_ALL=C sort) ||
    fail "the staged files differ from the expected list"
[ "$(find "$stage" -mindepth 1 -maxdepth 1)" = "$stage/opt" ] || fail "--destdir wrote outside DESTDIR/PREFIX"
grep -q "^prefix=$staged_prefix$" "$stage$staged_prefix/lib/pkgconfig/liveupdate.pc" || fail "the staged .pc does not name the prefix"
before=$(snapshot "$stage")
tools/install --prefix "$staged_prefix" --destdir "$stage" > /dev/null
[ "$before" = "$(snapshot "$stage")" ] || fail "a second staged install changed the tree"
# As a packager builds against a staged tree: pkg-config's sysroot.
cc -std=c11 -o "$work/app_staged" tests/install/mount_folder.c \
    $(PKG_CONFIG_PATH="$stage$staged_prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config --cflags --libs liveupdate)
staged_out=$(LD_LIBRARY_PATH=$stage$staged_prefix/lib "$work/app_staged" "$work/content" /levels/one.txt "$work/save_staged") ||
    fail "app_staged exited with $?"
grep -q "^level one$" <<< "$staged_out" || fail "app_staged"
ok "--destdir: every file under DESTDIR$staged_prefix, the .pc names $staged_prefix, idempotent, builds with PKG_CONFIG_SYSROOT_DIR"

# 9. Bad arguments are refused with status 2.
set +e
tools/install --prefix > /dev/null 2> "$work/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "option --prefix needs a value" "$work/err" || fail "--prefix without a value: status $rc, $(cat "$work/err")"
grep -q "^usage: tools/install" <<< "$(tools/install --help)" || fail "--help"
ok "--prefix without a value exits 2 naming it; --help"

# 10. The rockspec: luarocks builds and installs the module, with no network
# (unshare -n where allowed, as root on Linux).
rockspec=liveupdate-$version-1.rockspec
[ -f "$rockspec" ] || fail "no $rockspec (the rockspec's version must be the library's)"
command -v luarocks >/dev/null 2>&1 || fail "luarocks is not installed (tools/setup installs it)"
offline=""
if unshare -n true 2>/dev/null; then offline="unshare -n"; fi
$offline luarocks --lua-version 5.4 --tree "$work/rocks" make "$rockspec" > "$work/luarocks.log" 2>&1 ||
    { tail -20 "$work/luarocks.log"; fail "luarocks make $rockspec"; }
out=$(LUA_CPATH="$work/rocks/lib/lua/5.4/?.so" lua5.4 -e 'print((require "liveupdate")._VERSION)')
[ "$out" = "liveupdate $version" ] || fail "require from the rocks tree: $out"
ok "luarocks --lua-version 5.4 make $rockspec${offline:+ (no network)}: the module loads from the rocks tree"

echo "install: $checks checks passed"
