#!/bin/sh
# join-failed-write.sh - bb-join --failed FILE is written under a temporary
# name and renamed: a write error (a file size limit) is an error naming
# FILE with exit status 2, and leaves neither FILE nor the temporary file;
# an existing FILE is kept as it was.
. "$top_srcdir/tests/lib.sh"

D=$top_srcdir/tests/data/join
MODEL=anthropic.claude-3-haiku-20240307-v1:0
ARN=arn:aws:bedrock:us-east-1:123456789012:model-invocation-job

command -v bb-shard >/dev/null 2>&1 || test_skip_all "bb-shard is not built"
command -v bb-join >/dev/null 2>&1 || test_skip_all "bb-join is not built"

cd "$TEST_DIR" || exit 1
bb-shard -m $MODEL -t '{q}' --min-records 2 --max-records 4 -o shards "$D/rows.jsonl" \
	>shards.jsonl 2>/dev/null
awk -v arn="$ARN" '{ sub(/}$/, ",\"job_arn\":\"" arn "/job00000000" NR "\",\"status\":\"Completed\"}")
	print }' shards.jsonl >jobs.jsonl

# run_limited FILE: bb-join --failed FILE with writes to files limited to
# 0 bytes (SIGXFSZ ignored, so write(2) fails with EFBIG); its stderr and
# exit status end up in err (written outside the limit).
run_limited() {
	{ (trap '' XFSZ; ulimit -f 0 && exec bb-join -q -o "$D/out" --failed "$1" jobs.jsonl \
		>/dev/null); echo "exit $?"; } 2>&1 | cat >err
}

test_expect_success 'without a limit, --failed is written (the rows to test with)' '
	test_expect_code 1 bb-join -q -o "$D/out" --failed ok.jsonl jobs.jsonl >/dev/null &&
	test -s ok.jsonl
'

test_expect_success 'a write error on --failed: exit 2, FILE named, nothing left' '
	run_limited failed.jsonl &&
	test_grep "^exit 2$" err &&
	test_grep "bb-join: error: cannot write .failed.jsonl.: File too large" err &&
	! test -e failed.jsonl &&
	test -z "$(ls -a | grep "^failed\\.jsonl\\..*tmp")"
'

test_expect_success 'a write error on --failed keeps the FILE that was there' '
	echo old >kept.jsonl &&
	run_limited kept.jsonl &&
	test_grep "^exit 2$" err &&
	echo old >want && test_cmp want kept.jsonl &&
	test -z "$(ls -a | grep "^kept\\.jsonl\\..*tmp")"
'

test_done
