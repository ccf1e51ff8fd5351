# Sourced by the kiln-cli check scripts: a scratch folder, the counters, and the common checks.
# Set $cli (the kiln-cli binary) before using expect_*; end the script with `finish`.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
failures=0 passed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
# Shows what the failing command said: $tmp/out, and $tmp/err where a script keeps stderr apart.
fail() { failures=$((failures + 1)); echo "FAIL $1"; sed 's/^/     | /' "$tmp/out" "$tmp/err" 2>/dev/null; }

# expect_ok NAME REGEX ARGS...: exit 0 and the output matches REGEX
expect_ok() {
  local name=$1 re=$2; shift 2
  if "$cli" "$@" >"$tmp/out" 2>&1 && grep -qE "$re" "$tmp/out"; then pass "$name"; else fail "$name"; fi
}
# expect_one_line_error NAME REGEX ARGS...: exit not 0, exactly one line, matching REGEX
expect_one_line_error() {
  local name=$1 re=$2; shift 2
  "$cli" "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ $rc -ne 0 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -qE "$re" "$tmp/out"; then pass "$name (exit $rc)"; else fail "$name (exit $rc)"; fi
}

finish() {
  echo "$passed passed, $failures failed"
  [ $failures -eq 0 ]
}
