#!/usr/bin/env bash
# The man pages the build makes (packaging/man/man.cmake, in BUILD/packaging/man):
# each renders with groff -ww (every warning) and man -l without a word on
# stderr; amictl.1 has every command of amictl's table (cli/commands/commands.h),
# amid.toml.5 every key of configs/amid.toml, amid.8 amid's options and the
# sections of packaging/man/amid.h2m.
# Usage: tests/man_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
man_dir=$build/packaging/man
for tool in groff man; do
  command -v "$tool" >/dev/null || { echo "man test: $tool not found: run scripts/install-deps" >&2; exit 1; }
done
fail=0
passed=0
bad() { echo "man test: $*" >&2; fail=$((fail + 1)); }
ok() { passed=$((passed + 1)); }

declare -A text
for page in amictl.1 amid.8 amid.toml.5; do
  gz=$man_dir/$page.gz
  [ -f "$gz" ] || { bad "no $gz: build first"; continue; }
  # gzip -9n: no file name or time in the header (byte 3 flags, bytes 4-7 mtime).
  [ "$(od -An -tx1 -j3 -N5 "$gz" | tr -d ' ')" = 0000000000 ] && ok || bad "$page.gz has a name or time in its gzip header"
  warnings=$(zcat "$gz" | groff -man -Tutf8 -ww -z 2>&1) || true
  [ -z "$warnings" ] && ok || bad "groff -ww warns on $page: $warnings"
  rendered=$(MANWIDTH=80 man -l "$gz" 2>"$man_dir/$page.err")
  [ -s "$man_dir/$page.err" ] && bad "man -l $page printed: $(cat "$man_dir/$page.err")" || ok
  rm -f "$man_dir/$page.err"
  text[$page]=$rendered
  echo "$page: $(wc -l <<<"$rendered") lines rendered"
done

# has PAGE WORD...: PAGE's rendered text has each WORD (a whole word).
has() {
  local page=$1 w
  shift
  for w in "$@"; do
    if grep -qwF -- "$w" <<<"${text[$page]:-}"; then ok; else bad "$page does not mention $w"; fi
  done
}

mapfile -t commands < <(sed -n 's/^ *{"\([a-z-]*\)", add_[a-z_]*},$/\1/p' "$root/cli/commands/commands.h")
((${#commands[@]} > 30)) || bad "found only ${#commands[@]} commands in cli/commands/commands.h"
has amictl.1 NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" COMMANDS ENVIRONMENT "EXIT STATUS" FILES "SEE ALSO" \
  AMID_SOCKET AMID_REGION --socket --region --output "${commands[@]}" --instance-ids "amid.toml(5)" "amid(8)"
grep -q __complete-ids <<<"${text[amictl.1]:-}" && bad "amictl.1 names the hidden __complete-ids" || ok
# Every exit code of cli/exit_codes.h, with its number.
while read -r code; do
  grep -qE "^ {7}$code +[a-z]" <<<"${text[amictl.1]:-}" && ok || bad "amictl.1's EXIT STATUS lacks $code"
done < <(sed -n 's/^ *k[A-Za-z]* = \([0-9]*\),.*/\1/p' "$root/cli/exit_codes.h")

mapfile -t keys < <(sed -nE 's/^#? ?([a-z_]+) = .*/\1/p' "$root/configs/amid.toml" | sort -u)
((${#keys[@]} > 15)) || bad "found only ${#keys[@]} keys in configs/amid.toml"
has amid.toml.5 "${keys[@]}" "[daemon]" "[libvirt]" "[limits]" "[images]" "[ec2_api]" "[regions.NAME]"

has amid.8 --config --state-dir --socket --libvirt-uri --accel --version SYSTEMD FILES /etc/amid/amid.toml \
  /var/lib/amid /run/amid/amid.sock amid.socket LISTEN_FDS "amictl(1)" "amid.toml(5)"

echo "man: $passed passed, $fail failed"
[ "$fail" = 0 ]
