#!/bin/sh
. "$top_srcdir/tests/lib.sh"
test_done
