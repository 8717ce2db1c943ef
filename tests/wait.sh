#!/bin/sh
# wait.sh - bb-wait against bb-emu: completed, failed, expired, partially
# completed and stopped jobs, lines arriving while polling, --until,
# --timeout, throttling, an emulator restart, many jobs at once.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/submitwait-lib.sh"

jobs_require bb-wait bb-submit

# Slow enough to see jobs queued (Scheduled after 35 emulated seconds =
# 0.7 s, InProgress after 1.9 s, 0.05 s a record), fast enough for a test.
PORT=$(free_port) || test_skip_all "no python3 to find a free port"
emu_start --listen 127.0.0.1:$PORT --time-scale 50 --min-records 1 --max-concurrent 1000 \
	--seed 3 --bearer-token bb-test-bedrock-key || test_skip_all "bb-emu does not start"

count() {
	grep -c "$1" "$2"
}

mkbucket

test_expect_success 'usage errors' '
	test_expect_code 2 bb-wait --until never </dev/null 2>err &&
	test_expect_code 2 bb-wait --interval 0 </dev/null 2>err &&
	test_grep -q "Try .bb-wait --help." err
'

test_expect_success '--until scheduled returns once the jobs are queued' '
	mkshards c 3 &&
	bb-submit -o s3://bkt/out/ <c.jsonl >c.jobs &&
	bb-wait --interval 0.1 --until scheduled <c.jobs >c.sched &&
	test $(wc -l <c.sched) -eq 3 &&
	test $(grep -c "\"status\":\"\(Scheduled\|InProgress\)\"" c.sched) -eq 3 &&
	! grep -q "\"ended_at\":" c.sched
'

test_expect_success 'configuration errors: exit 2 at once, nothing written' '
	for c in nocreds noregion sso role; do
		test_expect_code 2 cfg_env $c timeout 20 bb-wait --interval 0.1 \
			<c.jobs >cfg.out 2>cfg.err &&
		! test -s cfg.out && test_grep "^bb-wait: error: " cfg.err &&
		test_grep -F "$(cfg_msg $c)" cfg.err || return 1
	done
'

test_expect_success 'completed jobs: status, ended_at, output_prefix, stats; exit 0' '
	bb-wait --interval 0.1 <c.sched >c.done &&
	test $(wc -l <c.done) -eq 3 &&
	test $(count "\"status\":\"Completed\"" c.done) -eq 3 &&
	test $(count "\"ended_at\":\"20" c.done) -eq 3 &&
	test $(count "\"stats\":{\"total_records\":5,\"processed_records\":5,\"success_records\":5,\"error_records\":0,\"input_tokens\":[1-9][0-9]*,\"output_tokens\":[1-9]" c.done) -eq 3 &&
	for arn in $(sed -n "s/.*\"job_arn\":\"[^\"]*\/\([a-z0-9]*\)\".*/\1/p" c.done); do
		grep -q "\"output_prefix\":\"s3://bkt/out/$arn/\"" c.done || return 1
	done &&
	test $(grep -o "\"status\":" c.done | wc -l) -eq 3 &&
	"$AWS_TOOL" get "$(sed -n "1s/.*\"output_prefix\":\"\([^\"]*\)\".*/\1/p" c.done)manifest.json.out" >m &&
	grep -q "\"totalRecordCount\":5" m
'

test_expect_success 'a Bedrock API key and no S3 credentials: waits, stats from the record counts' '
	cfg_env nocreds env AWS_BEARER_TOKEN_BEDROCK=bb-test-bedrock-key timeout 20 \
		bb-wait --interval 0.1 <c.sched >k.done 2>k.err &&
	test $(count "\"status\":\"Completed\"" k.done) -eq 3 &&
	test $(count "\"stats\":{\"total_records\":5" k.done) -eq 3 &&
	test_grep "warning: S3: .*record counts" k.err
'

test_expect_success 'resuming on the same lines gives the same result at once' '
	bb-wait --interval 0.1 <c.jobs >c.again &&
	sort c.done >a && sort c.again >b && test_cmp a b
'

test_expect_success 'lines are polled as they arrive (input still open)' '
	{ mkshards s 2 && bb-submit -o s3://bkt/out/ <s.jsonl >s.jobs && mkfifo fifo; } ||
		exit 1
	# through a pipe: each line is flushed as its job ends
	bb-wait --interval 0.1 <fifo | cat >s.out &
	pid=$!
	exec 9>fifo &&
	sed -n 1p s.jobs >&9 &&
	i=0 && while ! test -s s.out && test $i -lt 100; do sleep 0.1; i=$((i + 1)); done &&
	test $(wc -l <s.out) -eq 1 && grep -q "\"status\":\"Completed\"" s.out &&
	sed -n 2p s.jobs >&9 && exec 9>&- &&
	wait $pid &&
	test $(wc -l <s.out) -eq 2
'

test_expect_success '--timeout writes the unfinished jobs with their status, exit 1' '
	mkshards t 2 &&
	bb-submit -o s3://bkt/out/ <t.jsonl >t.jobs &&
	test_expect_code 1 bb-wait --interval 0.1 --timeout 0.5 <t.jobs >t.out 2>err &&
	test $(wc -l <t.out) -eq 2 &&
	test $(grep -c "\"status\":\"\(Submitted\|Validating\|Scheduled\)\"" t.out) -eq 2 &&
	test_grep -q "timeout: 2 of 2 jobs not finished" err
'

test_expect_success 'a throttling storm: polls slow down, every job still ends' '
	emu_faults "{\"throttle_rate\":0.5}" >/dev/null &&
	bb-wait --interval 0.1 --max-rate 50 <t.jobs >t.done 2>err;
	rc=$?
	emu_faults "{\"throttle_rate\":0}" >/dev/null &&
	test $rc -eq 0 && test $(count "\"status\":\"Completed\"" t.done) -eq 2
'

test_expect_success '--stop-on-interrupt stops the jobs on SIGINT and writes them' '
	{ mkshards x 2 && bb-submit -o s3://bkt/out/ <x.jsonl >x.jobs; } || exit 1
	bb-wait --interval 0.1 --stop-on-interrupt <x.jobs >x.out 2>err &
	pid=$!
	sleep 0.4 && kill -INT $pid &&
	test_expect_code 1 wait $pid &&
	test $(count "\"status\":\"Stopped\"" x.out) -eq 2 &&
	for a in $(sed -n "s/.*\"job_arn\":\"\([^\"]*\)\".*/\1/p" x.out); do
		"$AWS_TOOL" get-job "$a" | grep -q "^Stopped " || return 1
	done
'

test_expect_success 'without --stop-on-interrupt an interrupt leaves the jobs running' '
	{ mkshards y 1 && bb-submit -o s3://bkt/out/ <y.jsonl >y.jobs; } || exit 1
	bb-wait --interval 0.1 <y.jobs >y.out 2>err &
	pid=$!
	sleep 0.3 && kill -TERM $pid;
	wait $pid; rc=$?
	test $rc -eq 143 && ! test -s y.out &&
	"$AWS_TOOL" get-job "$(sed -n "s/.*\"job_arn\":\"\([^\"]*\)\".*/\1/p" y.jobs)" >st &&
	! grep -q "^Stop" st
'

# Restart: stop the emulator while bb-wait polls, start it again on the
# same port and data; bb-wait rides over the gap.
(cd "$TEST_DIR" && mkshards r 2 && bb-submit -o s3://bkt/out/ <r.jsonl >r.jobs) >/dev/null 2>&1
(cd "$TEST_DIR" && bb-wait --interval 0.1 <r.jobs >r.out 2>r.err; echo $? >r.rc) &
WPID=$!
sleep 0.3
emu_stop
sleep 1
# faster from here on: a 24 h timeout is 1.7 s
emu_start --listen 127.0.0.1:$PORT --time-scale 50000 --min-records 1 --max-concurrent 1000 \
	--seed 3
wait $WPID
test_expect_success 'an emulator restart while waiting: the jobs still end' '
	test "$(cat r.rc)" = 0 &&
	test $(count "\"status\":\"Completed\"" r.out) -eq 2 &&
	test_grep -q "retrying" r.err
'

test_expect_success 'jobs that fail, expire or partially complete: every line written, exit 1' '
	mkshards f 2 && mkshards e 1 && mkshards p 2 &&
	emu_faults "{\"fail_rate\":1}" >/dev/null && bb-submit -o s3://bkt/out/ <f.jsonl >fep.jobs &&
	emu_faults "{\"fail_rate\":0,\"expire_rate\":1}" >/dev/null &&
	bb-submit -o s3://bkt/out/ --timeout-hours 24 <e.jsonl >>fep.jobs &&
	emu_faults "{\"expire_rate\":0,\"partial_rate\":1}" >/dev/null &&
	bb-submit -o s3://bkt/out/ --timeout-hours 24 <p.jsonl >>fep.jobs &&
	emu_faults "{\"partial_rate\":0}" >/dev/null &&
	sed -n 1p c.jobs >>fep.jobs &&
	test_expect_code 1 bb-wait --interval 0.2 <fep.jobs >fep.out 2>err &&
	test $(wc -l <fep.out) -eq 6 &&
	test $(count "\"status\":\"Failed\",\"message\":\"" fep.out) -eq 2 &&
	test $(count "\"status\":\"Expired\"" fep.out) -eq 1 &&
	test $(count "\"status\":\"PartiallyCompleted\"" fep.out) -eq 2 &&
	test $(count "\"status\":\"Completed\"" fep.out) -eq 1 &&
	grep "PartiallyCompleted" fep.out | grep -q "\"stats\":{\"total_records\":5,\"processed_records\":[0-4]," &&
	test_grep -q "warning: job .* Failed" err
'

test_expect_success 'many jobs at once: 150 jobs within the rate limit' '
	mkshards n 1 &&
	i=0 && while test $i -lt 150; do
		i=$((i + 1)); echo "{\"n\":$i,\"sha256\":\"$i\",\"model\":\"$MODEL\",\"s3_uri\":\"s3://bkt/n/n-1.jsonl\"}"
	done >n.lines &&
	bb-submit -o s3://bkt/out/ <n.lines >n.jobs &&
	test $(wc -l <n.jobs) -eq 150 &&
	start=$(date +%s.%N) &&
	bb-wait --interval 0.2 --max-rate 100 --trace trace <n.jobs >n.out &&
	end=$(date +%s.%N) &&
	test $(count "\"status\":\"Completed\"" n.out) -eq 150 &&
	gets=$(grep -c "> GET /model-invocation-job/" trace) &&
	say "$gets GetModelInvocationJob requests from $start to $end" &&
	test $gets -ge 150 &&
	awk -v g=$gets -v s=$start -v e=$end "BEGIN { exit !(g <= 10 + 100 * (e - s) + 5) }"
'

test_done
