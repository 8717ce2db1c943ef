#!/bin/sh
# submit.sh - bb-submit against bb-emu: requests, idempotency (kill and
# re-run), the concurrency quota, throttling, validation errors.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/submitwait-lib.sh"

jobs_require bb-submit

# Jobs take about 0.5 s: Submitted 5 + Validating 30 + Scheduled 60 +
# 0.05 s a record, in emulated seconds, at 200x.
emu_start --time-scale 200 --min-records 1 --max-concurrent 100 --seed 7 ||
	test_skip_all "bb-emu does not start"

# jobs_by_input: "input-uri" of every job in the emulator, one a line.
jobs_by_input() {
	"$AWS_TOOL" list-jobs >jobs.list || return 1
	while read -r _arn _st; do
		"$AWS_TOOL" get-job "$_arn" | cut -d' ' -f4
	done <jobs.list
}

# one_job_each FILE: every s3_uri of FILE has exactly one job.
one_job_each() {
	jobs_by_input | sort >have.all &&
	sed -n 's/.*"s3_uri":"\([^"]*\)".*/\1/p' "$1" | sort >want.inputs &&
	grep -Fx -f want.inputs have.all >have.inputs
	comm -13 have.inputs want.inputs >missing &&
	uniq -d have.inputs >doubles &&
	! test -s missing && ! test -s doubles
}

field() {
	sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"
}

mkbucket

test_expect_success 'usage: --output is required, --timeout-hours is checked' '
	test_expect_code 2 bb-submit </dev/null 2>err &&
	test_grep -q "output is required" err &&
	test_expect_code 2 bb-submit -o s3://bkt/out/ --timeout-hours 23 </dev/null 2>err &&
	test_expect_code 2 bb-submit -o bkt/out/ </dev/null 2>err &&
	test_expect_code 2 env -u BB_ROLE_ARN bb-submit -o s3://bkt/out/ </dev/null 2>err &&
	test_grep -q "role-arn" err
'

test_expect_success 'set up 4 shards' '
	mkshards a 4 && test $(wc -l <a.jsonl) -eq 4
'

test_expect_success 'configuration errors: exit 2 at once, nothing written, no job made' '
	"$AWS_TOOL" list-jobs >cfg.before &&
	for c in nocreds noregion sso role; do
		test_expect_code 2 cfg_env $c timeout 20 bb-submit -o s3://bkt/out/ \
			<a.jsonl >cfg.out 2>cfg.err &&
		! test -s cfg.out && test_grep "^bb-submit: error: " cfg.err &&
		test_grep -F "$(cfg_msg $c)" cfg.err || return 1
	done &&
	"$AWS_TOOL" list-jobs >cfg.after && test_cmp cfg.before cfg.after &&
	cfg_env nocreds bb-submit -n -o s3://bkt/out/ <a.jsonl >cfg.out &&
	test $(wc -l <cfg.out) -eq 4
'

test_expect_success '--dry-run prints the request bodies and sends nothing' '
	bb-submit -n -o s3://bkt/out/ --timeout-hours 48 --tag team=ml \
		--invocation-type converse <a.jsonl >bodies &&
	test $(wc -l <bodies) -eq 4 &&
	test_grep -q "\"roleArn\":\"$ROLE\"" bodies &&
	test_grep -q "\"timeoutDurationInHours\":48" bodies &&
	test_grep -q "\"modelInvocationType\":\"Converse\"" bodies &&
	test_grep -q "\"tags\":\[{\"key\":\"team\",\"value\":\"ml\"}\]" bodies &&
	test_grep -q "\"s3Uri\":\"s3://bkt/a/a-1.jsonl\"" bodies &&
	bb-submit -n -o s3://bkt/out/ --timeout-hours 48 --tag team=ml \
		--invocation-type converse <a.jsonl >bodies2 &&
	test_cmp bodies bodies2 &&
	"$AWS_TOOL" list-jobs >list && ! test -s list
'

test_expect_success 'one job per shard, every field added, input fields kept' '
	bb-submit -o s3://bkt/out/ <a.jsonl >a.out 2>err &&
	test $(wc -l <a.out) -eq 4 &&
	for k in job_arn job_name client_token output_s3_uri submitted_at shard sha256 etag; do
		test $(grep -c "\"$k\":" a.out) -eq 4 || return 1
	done &&
	field job_arn <a.out | sort -u >arns && test $(wc -l <arns) -eq 4 &&
	field job_name <a.out | grep -q "^bb-a-1-[0-9a-f]\{10\}$" &&
	one_job_each a.jsonl
'

test_expect_success 'running again returns the same jobs and creates none' '
	bb-submit -o s3://bkt/out/ <a.jsonl >a.out2 &&
	field job_arn <a.out2 | sort -u >arns2 && test_cmp arns arns2 &&
	test $(wc -l <jobs.list) -eq 4 && one_job_each a.jsonl
'

# bb-emu carries out the next two CreateModelInvocationJob calls and loses
# their answers: the retries, with the same client token, get the jobs the
# lost calls made.
test_expect_success 'answers lost after the jobs were made: the retries get those jobs, none made twice' '
	mkshards lost 3 &&
	emu_lose 2 "POST /model-invocation-job" &&
	bb-submit -o s3://bkt/out/ --trace trl <lost.jsonl >lost.out 2>err; rc=$?;
	emu_faults "{\"lose_next\":0}" >after &&
	test $rc -eq 0 && test_grep -q "\"lose_next\":0" after &&
	test $(wc -l <lost.out) -eq 3 &&
	field job_arn <lost.out | sort -u >arns.lost && test $(wc -l <arns.lost) -eq 3 &&
	test $(grep -c "= attempt [0-9]*: POST .*/model-invocation-job\$" trl) -ge 4 &&
	one_job_each lost.jsonl
'

test_expect_success 'lines that already have a job_arn pass through unchanged' '
	bb-submit -o s3://bkt/out/ --trace trace <a.out >a.out3 &&
	test_cmp a.out a.out3 &&
	! test -s trace
'

# once_each FILE KEY...: every line of FILE has each KEY exactly once.
once_each() {
	_f=$1
	shift
	awk -v keys="$*" '
	BEGIN { n = split(keys, k, " ") }
	{
		for (i = 1; i <= n; i++)
			if ((c = gsub("\"" k[i] "\":", "&")) != 1) {
				print FILENAME ":" NR ": " k[i] " " c " times"
				bad = 1
			}
	}
	END { exit bad }' "$_f"
}

test_expect_success 'a line whose job_arn was removed: its old fields replaced, not repeated' '
	sed "s/\"job_arn\":\"[^\"]*\",//; s/}\$/,\"error\":\"old failure\"}/" a.out |
		head -n 2 >rearn.jsonl &&
	once_each rearn.jsonl job_name client_token output_s3_uri submitted_at error &&
	! grep -q "\"job_arn\":" rearn.jsonl &&
	bb-submit -o s3://bkt/out/ <rearn.jsonl >rearn.out &&
	once_each rearn.out job_arn job_name client_token output_s3_uri submitted_at shard &&
	! grep -q "\"error\":" rearn.out &&
	field job_arn <rearn.out >arns.re && head -n 2 a.out | field job_arn >want &&
	test_cmp want arns.re &&
	bb-submit -o s3://bkt/out2/ <rearn.jsonl >rearn2.out &&
	once_each rearn2.out job_arn job_name client_token output_s3_uri submitted_at &&
	test $(grep -c "\"output_s3_uri\":\"s3://bkt/out2/\"" rearn2.out) -eq 2 &&
	bb-wait --interval 0.1 --until scheduled <rearn2.out >rearn2.sched &&
	test $(wc -l <rearn2.sched) -eq 2
'

test_expect_success '--token-salt makes new jobs on purpose' '
	head -n 1 a.jsonl | bb-submit -o s3://bkt/out/ --token-salt round2 >salted &&
	! grep -q "$(head -n 1 arns)" salted && ! grep -q "$(sed -n 2p arns)" salted &&
	test $(field job_arn <salted | wc -l) -eq 1
'

test_expect_success 'killed at random points and re-run: exactly one job per shard' '
	mkshards k 8 &&
	emu_faults "{\"slow_ms\":40}" >/dev/null &&
	for delay in 0.05 0.15 0.1 0.3 0.2; do
		bb-submit -o s3://bkt/out/ <k.jsonl >k.partial 2>/dev/null &
		pid=$!
		sleep $delay
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
	done
	emu_faults "{\"slow_ms\":0}" >/dev/null &&
	bb-submit -o s3://bkt/out/ <k.jsonl >k.out &&
	test $(field job_arn <k.out | sort -u | wc -l) -eq 8 &&
	one_job_each k.jsonl
'

test_expect_success 'a bad model id fails its shard only (error field, exit 1)' '
	mkshards v 3 &&
	sed "2s/\"model\":\"[^\"]*\"/\"model\":\"not a model!\"/" v.jsonl >v.bad &&
	test_expect_code 1 bb-submit -o s3://bkt/out/ <v.bad >v.out 2>err &&
	test $(wc -l <v.out) -eq 3 &&
	test $(grep -c "\"job_arn\":" v.out) -eq 2 &&
	sed -n 2p v.out | grep -q "\"error\":\".*ValidationException" &&
	test_grep -q "shard .v-2.jsonl.*ValidationException.*(at <stdin>:2)" err &&
	test_expect_code 1 bb-submit -o s3://bkt/out/ <v.out >v.out2 2>err &&
	test $(grep -c "\"error\":" v.out2) -eq 1
'

test_expect_success 'a re-run retries a failed line (its old error dropped)' '
	sed -n 2p v.out | sed "s/\"model\":\"not a model!\"/\"model\":\"$MODEL\"/" >v.fixed &&
	bb-submit -o s3://bkt/out/ <v.fixed >v.fixed.out &&
	! grep -q "\"error\":" v.fixed.out && grep -q "\"job_arn\":" v.fixed.out
'

test_expect_success 'a bad role ARN fails every shard with exit 1' '
	test_expect_code 1 bb-submit -r arn:aws:iam::1:role/x -o s3://bkt/out/ \
		--token-salt badrole <a.jsonl >r.out 2>err &&
	test $(grep -c "\"error\":\".*roleArn" r.out) -eq 4
'

test_expect_success 'a line without s3_uri is written with an error' '
	printf "{\"shard\":\"x.jsonl\"}\nnot json\n" >nouri &&
	test_expect_code 1 bb-submit -o s3://bkt/out/ <nouri >nouri.out 2>err &&
	test $(wc -l <nouri.out) -eq 1 && grep -q "\"error\":\"no s3_uri" nouri.out &&
	test_grep -q "error: .*(at <stdin>:2)" err
'

test_expect_success 'the quota is full for a while: bb-submit waits, then submits all' '
	mkshards q 5 &&
	emu_faults "{\"max_concurrent\":2}" >/dev/null &&
	bb-submit -o s3://bkt/out/ --retry-interval 0.2 <q.jsonl >q.out 2>err &&
	emu_faults "{\"max_concurrent\":100}" >/dev/null &&
	test_grep -q "quota of model .* is full: waiting" err &&
	test $(field job_arn <q.out | sort -u | wc -l) -eq 5 &&
	one_job_each q.jsonl
'

test_expect_success '--max-wait gives a shard up when no slot frees' '
	mkshards w 2 &&
	emu_faults "{\"max_concurrent\":1,\"expire_rate\":1}" >/dev/null &&
	head -n 1 w.jsonl | bb-submit -o s3://bkt/out/ >w1.out &&
	emu_faults "{\"expire_rate\":0}" >/dev/null &&
	sed -n 2p w.jsonl >w2.in &&
	test_expect_code 1 bb-submit -o s3://bkt/out/ --retry-interval 0.1 --max-wait 0.6 \
		<w2.in >w2.out 2>err &&
	emu_faults "{\"max_concurrent\":100}" >/dev/null &&
	"$AWS_TOOL" stop "$(field job_arn <w1.out)" &&
	grep -q "\"error\":\"gave up after waiting" w2.out &&
	! grep -q job_arn w2.out
'

test_expect_success '--max-inflight counts the jobs in flight through List' '
	mkshards m 3 &&
	bb-submit -v -o s3://bkt/out/ --max-inflight 1 --retry-interval 0.1 \
		<m.jsonl >m.out 2>err &&
	test $(field job_arn <m.out | sort -u | wc -l) -eq 3 &&
	test_grep -q "jobs in flight for .* (--max-inflight 1): waiting" err &&
	one_job_each m.jsonl
'

test_expect_success 'a throttling storm: every shard submitted once' '
	mkshards t 6 &&
	emu_faults "{\"throttle_rate\":0.6}" >/dev/null &&
	bb-submit -o s3://bkt/out/ --retry-interval 0.2 <t.jsonl >t.out 2>err;
	rc=$?
	emu_faults "{\"throttle_rate\":0}" >/dev/null &&
	test $rc -eq 0 &&
	test $(field job_arn <t.out | sort -u | wc -l) -eq 6 &&
	one_job_each t.jsonl
'

test_expect_success 'files as arguments, - as stdin' '
	bb-submit -o s3://bkt/out/ a.jsonl - <k.jsonl >args.out &&
	test $(wc -l <args.out) -eq 12 &&
	field job_arn <args.out | sort -u | wc -l | grep -q "^ *12$"
'

test_done
