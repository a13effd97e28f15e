#!/usr/bin/env bash
# The Debian package (packaging/package.cmake): builds it from the build tree
# (cmake --build BUILD --target package), checks its name, metadata, file
# list and control files, runs lintian (no errors allowed; its whole output is
# printed), then installs it with dpkg into a scratch root (--root, maintainer
# scripts run with DPKG_ROOT set: --force-script-chrootless) and checks what an
# admin relies on: the paths, the groups, the conffile, and that removing and
# purging leave /var/lib/amid alone.
# Usage: tests/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
for tool in dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || { echo "package test: $tool not found: run scripts/install-deps" >&2; exit 1; }
done
fail=0
bad() { echo "package test: $*" >&2; fail=1; }

version=$("$build/daemon/amid" --version | awk '{print $2}')
[ -n "$version" ] || { echo "package test: amid --version printed no version" >&2; exit 1; }
[ "$("$build/cli/amictl" --version)" = "amictl $version" ] || bad "amictl --version is not 'amictl $version'"
rm -f "$build"/amid_*.deb
cmake --build "$build" --target package >/dev/null
deb=$build/amid_${version}_amd64.deb
[ -f "$deb" ] || { ls "$build"/*.deb >&2 || true; echo "package test: no $deb" >&2; exit 1; }
echo "package: $deb ($(du -k "$deb" | cut -f1) KiB)"

# Metadata: the version from one place, Depends from dpkg-shlibdeps (libvirt0)
# and the programs amid runs.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = amid ] || bad "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || bad "Version is '$(field Version)', amid --version says $version"
[ "$(field Architecture)" = amd64 ] || bad "Architecture is '$(field Architecture)'"
depends=$(field Depends)
echo "Depends: $depends"
for d in libvirt0 libsqlite3-0 libc6 qemu-system-x86 qemu-utils libvirt-daemon-driver-qemu libvirt-daemon-system nftables libsystemd0; do
  grep -qE "(^|, )$d( |,|$)" <<<"$depends" || bad "Depends lacks $d"
done

# Files where Debian puts them.
listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/amid ./usr/bin/amictl ./etc/amid/amid.toml ./usr/share/amid/instance-types.toml \
         ./usr/share/amid/images/build-tiny ./usr/share/amid/images/build-debian \
         ./usr/share/doc/amid/copyright ./usr/share/doc/amid/changelog.gz ./usr/share/doc/amid/README.md \
         ./usr/lib/systemd/system/amid.service ./usr/lib/systemd/system/amid.socket \
         ./usr/share/doc/amid/examples/amid-qemu-system.conf; do
  grep -qxF "$f" <<<"$listing" || bad "the package has no $f"
done
if grep -vE '^\./(usr/(sbin|bin|share/(amid|doc/amid|man/man[158]|bash-completion/completions|zsh/vendor-completions)|lib/systemd/system)|etc/amid)(/|$)|^\./$|^\./(usr|usr/share|usr/lib|usr/lib/systemd|etc|usr/share/doc|usr/share/man|usr/share/bash-completion|usr/share/zsh)/$' <<<"$listing"; then
  bad "files outside amid's folders (above)"
fi
control=$(mktemp -d)
target=$(mktemp -d)
trap 'rm -rf "$control" "$target"' EXIT
dpkg-deb -e "$deb" "$control"
[ "$(cat "$control/conffiles")" = /etc/amid/amid.toml ] || bad "conffiles is not /etc/amid/amid.toml: $(cat "$control/conffiles")"
for s in postinst prerm postrm; do [ -x "$control/$s" ] || bad "$s missing or not executable"; done

# lintian: errors fail the test; its whole output is shown.
echo "== lintian $deb"
lint=$(lintian --tag-display-limit 0 "$deb" 2>&1) || true
echo "${lint:-(no tags)}"
if grep -q '^E: ' <<<"$lint"; then bad "lintian reports errors (above)"; fi

# An install into a scratch root: a dpkg database and the files groupadd
# edits, nothing else. Dependencies are not there (--force-depends).
mkdir -p "$target"/var/lib/dpkg/{info,updates} "$target/etc" "$target/var/lib/amid"
: >"$target/var/lib/dpkg/status"
for f in passwd group shadow gshadow; do
  grep -E '^root:' "/etc/$f" >"$target/etc/$f"
done
echo "keep me" >"$target/var/lib/amid/catalog-of-the-admin"
# dpkg's own lines (every missing dependency) are shown only when it fails.
dpkg_root() {
  dpkg --root="$target" --force-script-chrootless --force-depends --log=/dev/null "$@" >"$control/dpkg.out" 2>&1 \
    || { cat "$control/dpkg.out" >&2; echo "package test: dpkg $* failed" >&2; exit 1; }
  grep -v "depends on\|is not installed\|dependency problems" "$control/dpkg.out" || true
}
echo "== dpkg --root $target -i"
dpkg_root -i "$deb"
for f in usr/sbin/amid usr/bin/amictl etc/amid/amid.toml usr/lib/systemd/system/amid.service \
         usr/lib/systemd/system/amid.socket; do
  [ -f "$target/$f" ] || bad "installed: no /$f"
done
"$target/usr/bin/amictl" --version | grep -qxF "amictl $version" || bad "the installed amictl does not run"
for g in amid amid-admin; do
  grep -q "^$g:x:[0-9]*:" "$target/etc/group" || bad "postinst made no group $g"
done
awk '/^Package: amid$/,/^$/' "$target/var/lib/dpkg/status" | grep -q '^ /etc/amid/amid.toml [0-9a-f]\{32\}$' \
  || bad "dpkg did not record /etc/amid/amid.toml as a conffile"

# The admin edits the config; installing the package again keeps the edit.
echo "# the admin's line" >>"$target/etc/amid/amid.toml"
dpkg_root -i "$deb"
grep -qxF "# the admin's line" "$target/etc/amid/amid.toml" || bad "reinstalling replaced the admin's amid.toml"

# An upgrade whose amid.toml changed too: the same package repacked as a later
# version with a line added to amid.toml. Unattended (--force-confold, as
# unattended-upgrades runs dpkg), the admin's file stays and the package's new
# one lands beside it as amid.toml.dpkg-dist.
echo "== upgrade to $version+test1 with a changed amid.toml (--force-confold)"
upgrade=$control/upgrade
dpkg-deb -R "$deb" "$upgrade"
sed -i "s/^Version: .*/Version: $version+test1/" "$upgrade/DEBIAN/control"
echo "# new in $version+test1" >>"$upgrade/etc/amid/amid.toml"
(cd "$upgrade" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort | xargs md5sum >DEBIAN/md5sums)
dpkg-deb --root-owner-group -b "$upgrade" "$control/amid_upgrade.deb" >/dev/null
dpkg_root --force-confold -i "$control/amid_upgrade.deb"
awk '/^Package: amid$/,/^$/' "$target/var/lib/dpkg/status" | grep -qx "Version: $version+test1" \
  || bad "the upgrade to $version+test1 did not install"
grep -qxF "# the admin's line" "$target/etc/amid/amid.toml" || bad "the upgrade replaced the admin's amid.toml"
grep -qxF "# new in $version+test1" "$target/etc/amid/amid.toml" && bad "the upgrade merged into the admin's amid.toml"
grep -qxF "# new in $version+test1" "$target/etc/amid/amid.toml.dpkg-dist" \
  || bad "the upgrade left no amid.toml.dpkg-dist with the package's new config"
[ -f "$target/var/lib/amid/catalog-of-the-admin" ] || bad "the upgrade touched /var/lib/amid"

echo "== dpkg --root $target --remove, then --purge"
dpkg_root --remove amid
[ -e "$target/usr/sbin/amid" ] && bad "remove left /usr/sbin/amid"
[ -f "$target/etc/amid/amid.toml" ] || bad "remove took the conffile (only purge may)"
purge_out=$(dpkg_root --purge amid)
echo "$purge_out"
grep -q "var/lib/amid is left in place" <<<"$purge_out" || bad "purge did not say that /var/lib/amid stays"
[ -f "$target/var/lib/amid/catalog-of-the-admin" ] || bad "purge deleted /var/lib/amid"
[ -e "$target/etc/amid/amid.toml" ] && bad "purge left /etc/amid/amid.toml"
# Man pages and completions (packaging/man/man.cmake): in the package where man
# and the shells look, and lintian has no page to miss (tests/man_test.sh checks
# what the pages say, tests/completion_test.sh what the completions do).
for f in ./usr/share/man/man1/amictl.1.gz ./usr/share/man/man5/amid.toml.5.gz ./usr/share/man/man8/amid.8.gz \
         ./usr/share/bash-completion/completions/amictl ./usr/share/zsh/vendor-completions/_amictl; do
  grep -qxF "$f" <<<"$listing" || bad "the package has no $f"
done
if grep -q 'no-manual-page' <<<"$lint"; then bad "lintian misses a man page (above)"; fi

[ "$fail" = 0 ] && echo "package test: passed"
exit "$fail"
