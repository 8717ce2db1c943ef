# lib.sh - a small shell test library in the manner of git's t/test-lib.sh,
# speaking TAP. Source it from a tests/*.sh script:
#
#   . "$top_srcdir/tests/lib.sh"
#   test_expect_success 'name' 'commands joined with &&'
#   test_must_fail cmd args       (exit 1..125, not a crash)
#   test_expect_code N cmd args
#   test_cmp expected actual
#   test_done
#
# Each test runs in the scratch directory $TEST_DIR (removed at the end
# unless BB_TEST_KEEP is set). Helpers for bb-emu: emu_start / emu_stop.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PATH="$top_builddir/cmd:$PATH"
LC_ALL=C
export PATH LC_ALL

test_count=0
test_failures=0
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bb-$TEST_NAME.XXXXXX")
test_cleanup_hooks=

test_at_exit() {
	test_cleanup_hooks="$1${test_cleanup_hooks:+; $test_cleanup_hooks}"
}

_test_exit() {
	eval "$test_cleanup_hooks" 2>/dev/null
	if test -z "${BB_TEST_KEEP:-}"; then
		rm -rf "$TEST_DIR"
	else
		echo "# kept $TEST_DIR"
	fi
}
trap _test_exit EXIT
trap 'exit 143' TERM INT

say() { echo "# $*"; }

test_expect_success() {
	test_count=$((test_count + 1))
	_name=$1
	shift
	if (cd "$TEST_DIR" && eval "$*") >"$TEST_DIR/.out" 2>&1; then
		echo "ok $test_count - $_name"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $_name"
		sed -e 's/^/#   /' "$TEST_DIR/.out" | head -n 60
	fi
}

test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count # SKIP $1: $2"
}

test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

test_must_fail() {
	"$@"
	_rc=$?
	if test $_rc -eq 0; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif test $_rc -gt 125; then
		echo "test_must_fail: command died of a signal or crashed ($_rc): $*" >&2
		return 1
	fi
	return 0
}

test_expect_code() {
	_want=$1
	shift
	"$@"
	_rc=$?
	if test $_rc -ne "$_want"; then
		echo "test_expect_code: got exit $_rc, want $_want: $*" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

test_grep() {
	if ! grep "$@"; then
		echo "test_grep: no match for: $*" >&2
		for _f; do :; done
		test -f "$_f" && sed -e 's/^/> /' "$_f" | head -n 20 >&2
		return 1
	fi
}

test_done() {
	echo "1..$test_count"
	test "$test_failures" -eq 0
}

# A free TCP port on 127.0.0.1 (the emulator can also pick one itself).
free_port() {
	"${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
