#!/bin/sh
# client-emu.sh - placeholder until bb-emu answers requests.
. "$top_srcdir/tests/lib.sh"
test_skip_all "bb-emu end-to-end test not written yet"
