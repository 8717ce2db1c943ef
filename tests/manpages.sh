#!/bin/sh
# manpages.sh - every manual page lints clean with mandoc, and for each
# program the options of its --help and of its man page SYNOPSIS are the
# same set (STYLE.md: the usage text matches the SYNOPSIS), compared by long
# name (tests/fixtures/optcheck.py).
. "$top_srcdir/tests/lib.sh"

command -v mandoc >/dev/null 2>&1 || test_skip_all "mandoc is not installed (Debian: mandoc)"

for page in "$top_srcdir"/man/*.[17]; do
	test -f "$page" || continue
	name=$(basename "$page")
	test_expect_success "$name: mandoc -T lint is clean" "
		mandoc -T lint -W warning '$page' >lint.out 2>&1; rc=\$?
		cat lint.out; test \$rc -eq 0 && ! test -s lint.out
	"
done

for page in "$top_srcdir"/man/*.1; do
	test -f "$page" || continue
	prog=$(basename "$page" .1)
	if ! command -v "$prog" >/dev/null 2>&1; then
		test_skip "$prog --help matches its SYNOPSIS" "$prog is not built"
		continue
	fi
	test_expect_success "$prog: --help and the SYNOPSIS list the same options" "
		$prog --help >help.txt 2>&1 &&
		test -s help.txt &&
		\${PYTHON3:-python3} '$top_srcdir/tests/fixtures/optcheck.py' '$page' help.txt
	"
	test_expect_success "$prog: --version and --help exit 0" "
		$prog --version >v.out && grep -q '^$prog (bbatch) ' v.out &&
		$prog --help >h.out && test -s h.out
	"
	test_expect_success "$prog: an unknown option is a usage error (exit 2)" "
		test_expect_code 2 $prog --no-such-option 2>err.out &&
		grep -q \"Try '$prog --help'\" err.out
	"
done

test_done
