#!/bin/sh
# pipeline.sh - the whole pipeline end to end against bb-emu:
#   bb-shard | bb-upload | bb-submit | tee | bb-wait | bb-join
# every input row comes out exactly once, in order, with its own output
# (checked against a second run over the rows shuffled and piped: the
# emulator's outputs are a function of the prompt), one job per shard, and
# the resume recipes (saved lines, whole pipeline again) change nothing.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"

pipeline_requires
emu_start --bucket bkt --time-scale 20000 --min-records 10 --max-concurrent 100 --seed 3 ||
	test_skip_all "bb-emu does not start"

cd "$TEST_DIR" || exit 1
check gen 1234 1 >rows.jsonl
check shuffle 7 <rows.jsonl >shuffled.jsonl

test_expect_success 'the pipeline over 1234 rows: every stage exits 0' '
	run_pipeline a "$TEST_DIR/rows.jsonl" a &&
	pipeline_rc a shard upload submit wait join && no_crash a
'

test_expect_success 'every stage wrote one line a shard, each job Completed' '
	test $(wc -l <a/shards.jsonl) -eq 13 &&
	for f in uploaded jobs done; do
		test $(wc -l <a/$f.jsonl) -eq 13 || return 1
	done &&
	test $(grep -c "\"status\":\"Completed\"" a/done.jsonl) -eq 13 &&
	test $(grep -c "\"success_records\":" a/done.jsonl) -eq 13 &&
	grep -q "\"source\":{\"path\":\"$TEST_DIR/rows.jsonl\"" a/shards.jsonl
'

test_expect_success 'every input row exactly once, in order, with an output' '
	check rows rows.jsonl a/results.jsonl --failed a/failed.jsonl --all-ok >out &&
	test_grep -q "^rows 1234 ok 1234 error 0" out &&
	! test -s a/failed.jsonl
'

test_expect_success 'each row its own output: the same rows shuffled, through a pipe' '
	cat shuffled.jsonl | run_pipeline b - b &&
	pipeline_rc b shard upload submit wait join &&
	grep -q "\"source\":{\"sidecar\":" b/shards.jsonl &&
	check rows shuffled.jsonl b/results.jsonl --all-ok >/dev/null &&
	check same-outputs a/results.jsonl b/results.jsonl
'

test_expect_success 'bb-emu holds exactly one job per shard' '
	emu_jobs jobs.txt &&
	check jobs jobs.txt a/uploaded.jsonl s3://bkt/a/ &&
	check jobs jobs.txt b/uploaded.jsonl s3://bkt/b/
'

test_expect_success 'resume from the saved job lines: the same results' '
	bb-wait -q --interval 0.05s <a/jobs.jsonl >done2.jsonl &&
	bb-join -q <done2.jsonl >results2.jsonl &&
	test_cmp a/results.jsonl results2.jsonl
'

test_expect_success 'the whole pipeline again: nothing sent, no new job, the same results' '
	cp a/results.jsonl results1.jsonl &&
	run_pipeline a "$TEST_DIR/rows.jsonl" a &&
	pipeline_rc a shard upload submit wait join &&
	test $(grep -c "\"skipped\":true" a/uploaded.jsonl) -eq 13 &&
	emu_jobs jobs2.txt && test_cmp jobs.txt jobs2.txt &&
	test_cmp results1.jsonl a/results.jsonl
'

test_expect_success 'no temporary files left in the shard directories' '
	ls -a a/shards b/shards >ls.out &&
	! grep -q "tmp" ls.out
'

test_done
