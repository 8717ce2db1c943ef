#!/bin/sh
. "$top_srcdir/tests/lib.sh"
test_skip_all "not written yet"
