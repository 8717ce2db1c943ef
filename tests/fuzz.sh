#!/bin/sh
# fuzz.sh - a short run of every libFuzzer harness in tests/fuzz/ (the CI
# part of scripts/fuzz): one test point per target. Each runs for
# $BB_FUZZ_SECONDS (5) from its seed corpus, two at a time; any crash,
# leak, sanitizer report or broken invariant fails the point, which names
# the reproducer (kept in $top_builddir/tests/fuzz-crashes/) and shows
# the start of the report. Replay: tests/fuzz.build/fuzz-TARGET FILE.
# Skips when clang or its libFuzzer runtime is missing.
. "$top_srcdir/tests/lib.sh"

# The harnesses carry their own ASan/UBSan; the sanitizer build of the
# project would only run the same fuzzing twice.
test "${BB_ASAN_BUILD:-no}" = yes &&
	test_skip_all "fuzzing runs once, in the plain build (the harnesses have their own sanitizers)"

fuzz="$top_srcdir/scripts/fuzz"
why=$("$fuzz" --check) || test_skip_all "cannot build fuzzers: $why"

build="$top_builddir/tests/fuzz.build"
crashes="$top_builddir/tests/fuzz-crashes"
secs=${BB_FUZZ_SECONDS:-5}
mkdir -p "$crashes"
"$fuzz" --build "$build" >"$TEST_DIR/build.log" 2>&1
targets=$("$fuzz" --list)

run_one() {
	t=$1
	if [ ! -x "$build/fuzz-$t" ]; then
		echo 127 >"$TEST_DIR/$t.rc"
		return
	fi
	mkdir -p "$TEST_DIR/corpus-$t"
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$build/fuzz-$t" -seed="${BB_FUZZ_SEED:-1}" -max_total_time="$secs" \
	    -rss_limit_mb=2048 -timeout=10 \
	    -artifact_prefix="$crashes/$t-" -print_final_stats=1 \
	    "$TEST_DIR/corpus-$t" "$top_srcdir/tests/fuzz/corpus/$t" \
	    >"$TEST_DIR/$t.log" 2>&1
	echo $? >"$TEST_DIR/$t.rc"
}

# two at a time (CI machines have two cores)
set -- $targets
while [ $# -gt 0 ]; do
	run_one "$1" &
	if [ $# -gt 1 ]; then
		run_one "$2" &
		shift
	fi
	shift
	wait
done

check_one() {
	t=$1
	rc=$(cat "$TEST_DIR/$t.rc")
	if [ "$rc" = 127 ]; then
		echo "fuzz-$t was not built:"
		cat "$TEST_DIR/build.log"
		return 1
	fi
	if [ "$rc" != 0 ] || grep -q -E '^(==[0-9]+==ERROR|SUMMARY: )' "$TEST_DIR/$t.log"; then
		echo "fuzz-$t failed (exit $rc)"
		sed -n 's/.*Test unit written to /reproducer: /p' "$TEST_DIR/$t.log"
		grep -m 1 -A 25 -E 'runtime error|invariant broken|==[0-9]+==ERROR|refused' \
		    "$TEST_DIR/$t.log"
		return 1
	fi
	grep -E '^Done [0-9]+ runs' "$TEST_DIR/$t.log"
}

for t in $targets; do
	test_expect_success "fuzz $t for ${secs}s" "check_one $t"
done
test_done
