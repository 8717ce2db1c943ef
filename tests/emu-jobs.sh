#!/bin/sh
# emu-jobs.sh - whole batch jobs in bb-emu: the AWS CLI, unmodified, runs
# one from upload to download; then (boto3, tests/fixtures/bedrock_jobs.py)
# every model family's output shape, output layout, validation failures,
# fault injection (reproducible by seed), Stop of a running job, and a
# restart of the emulator in the middle of jobs; --bucket and --durations;
# --help, -q and the ready line; Gets answered while large jobs run.
. "$top_srcdir/tests/lib.sh"

test_require emu boto3 aws

jobs_py() {
	"$PY" "$FIX/bedrock_jobs.py" "$EMU_URL" "$@"
}
# Scenarios run by one python process (start-up is most of their time),
# in parallel, leave their results here for scen_ok (lib.sh).
mkdir -p "$TEST_DIR/res"

# Scale 10000: the 95 s before InProgress pass in a hundredth of a second.
# The buckets of the AWS CLI run are made by --bucket.
emu_start --name main --time-scale 10000 --seed 3 -v --bucket cli-in --bucket cli-out ||
	test_skip_all "bb-emu did not start"
A="aws --endpoint-url $EMU_URL_main"

test_expect_success 'the AWS CLI runs a whole batch job (buckets made by --bucket)' '
	"$PY" -c "
import json
for i in range(150):
    mi = {\"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\": 100,
          \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Q%d\" % i}]}]}
    if i % 50 == 7:
        mi = {\"max_tokens\": 5}
    print(json.dumps({\"recordId\": \"REC%08d\" % i, \"modelInput\": mi}))
" >in.jsonl &&
	$A s3 cp in.jsonl s3://cli-in/batch/part-0001.jsonl &&
	$A bedrock create-model-invocation-job --job-name cli-run \
		--role-arn arn:aws:iam::123456789012:role/BatchRole \
		--model-id anthropic.claude-3-haiku-20240307-v1:0 \
		--input-data-config "{\"s3InputDataConfig\":{\"s3Uri\":\"s3://cli-in/batch/\"}}" \
		--output-data-config "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://cli-out/results/\"}}" \
		--query jobArn --output text >arn &&
	arn=$(cat arn) && id=${arn##*/} &&
	sleep 0.3 &&
	for i in $(seq 100); do
		$A bedrock get-model-invocation-job --job-identifier "$arn" --output text \
			--query "[status,totalRecordCount,processedRecordCount,successRecordCount,errorRecordCount]" \
			>counts || return 1
		case $(cut -f 1 counts) in Completed|Failed|PartiallyCompleted|Stopped|Expired) break ;; esac
		sleep 0.2
	done &&
	printf "Completed\t150\t150\t147\t3\n" >want && test_cmp want counts &&
	$A s3 cp --recursive "s3://cli-out/results/$id/" out/ &&
	ls out >ls && printf "manifest.json.out\npart-0001.jsonl.out\n" >want && test_cmp want ls &&
	"$PY" -c "
import json, sys
m = json.load(open(\"out/manifest.json.out\"))
assert (m[\"totalRecordCount\"], m[\"processedRecordCount\"], m[\"successRecordCount\"], m[\"errorRecordCount\"]) == (150, 150, 147, 3), m
assert m[\"inputTokenCount\"] > 0 and m[\"outputTokenCount\"] > 0, m
lines = [json.loads(l) for l in open(\"out/part-0001.jsonl.out\")]
ids = sorted(l[\"recordId\"] for l in lines)
assert ids == [\"REC%08d\" % i for i in range(150)], ids[:5]
bad = [l for l in lines if \"error\" in l]
assert sorted(l[\"recordId\"] for l in bad) == [\"REC00000007\", \"REC00000057\", \"REC00000107\"], bad
assert all(l[\"error\"][\"errorCode\"] == 400 and \"anthropic_version\" in l[\"error\"][\"errorMessage\"] for l in bad)
good = [l for l in lines if \"modelOutput\" in l]
assert all(l[\"modelOutput\"][\"content\"][0][\"text\"] for l in good)
assert sum(l[\"modelOutput\"][\"usage\"][\"output_tokens\"] for l in good) == m[\"outputTokenCount\"]
"
'

test_expect_success 'the job went Submitted, Validating, Scheduled, InProgress, Completed' '
	id=$(sed "s|.*/||" arn) &&
	grep "job $id: " "$TEST_DIR/main.err" | sed "s/.*job $id: //" >got &&
	cat >want <<-\EOF &&
	Submitted -> Validating
	Validating -> Scheduled
	Scheduled -> InProgress
	InProgress -> Completed
	EOF
	test_cmp want got
'

# The other emulators, then every boto3 scenario in one python process.
emu_start --name quota --time-scale 10000 --max-records 150 || exit 1
emu_start --name fail --time-scale 10000 --fail-rate 1 || exit 1
emu_start --name partial --time-scale 10000 --partial-rate 1 || exit 1
emu_start --name expire --time-scale 1000000 --expire-rate 1 || exit 1
emu_start --name err1 --time-scale 10000 --record-error-rate 0.3 --seed 42 || exit 1
emu_start --name err2 --time-scale 10000 --record-error-rate 0.3 --seed 42 || exit 1
emu_start --name lock -v --durations submitted=0,validating=0,scheduled=1000,stopping=0 \
	--max-records 1000000 || exit 1
# Gets while inputs are scanned: in a python process of its own (in the
# busy one below its Gets may come too late to see the scans).
"$PY" "$FIX/bedrock_jobs.py" --results "$TEST_DIR/res" \
	"@$EMU_URL_lock" "unlocked=validate_unlocked,150000,$TEST_DIR/lock.err" &
UNLOCKED_PID=$!
FAMILIES="anthropic nova converse titan2 titan1 llama mistral mistralchat cohere"
set --
for f in $FAMILIES; do
	set -- "$@" "family-$f=family,$f"
done
"$PY" "$FIX/bedrock_jobs.py" --results "$TEST_DIR/res" "@$EMU_URL_main" "$@" \
	determinism=determinism layout=layout invalid=invalid \
	"@$EMU_URL_quota" records_quota=records_quota,150 \
	"@$EMU_URL_fail" fail=job_fault,Failed \
	"@$EMU_URL_partial" partial=job_fault,PartiallyCompleted \
	"@$EMU_URL_expire" expire=job_fault,Expired \
	"@$EMU_URL_err1" "err1=record_errors,0.3,$TEST_DIR/errs1" \
	"@$EMU_URL_err2" "err2=record_errors,0.3,$TEST_DIR/errs2"
wait "$UNLOCKED_PID"

for f in $FAMILIES; do
	test_expect_success "model family $f: real modelOutput shapes, error lines for bad modelInput" \
		"scen_ok family-$f"
done
test_expect_success 'same input, same outputs; output order shuffled; max_tokens' 'scen_ok determinism'
test_expect_success 'output layout: files under a prefix, single object, bare bucket' 'scen_ok layout'
test_expect_success 'Validating fails bad input data with Bedrock-like messages' 'scen_ok invalid'
test_expect_success '--max-records: a file over the records quota fails' 'scen_ok records_quota'
test_expect_success '--fail-rate 1: the job fails' 'scen_ok fail'
test_expect_success '--partial-rate 1: PartiallyCompleted' 'scen_ok partial'
test_expect_success '--expire-rate 1: Expired at jobExpirationTime' 'scen_ok expire'
test_expect_success '--record-error-rate 0.3: error lines, job Completed' 'scen_ok err1'
test_expect_success 'the same seed fails the same records' \
	'scen_ok err2 && test_cmp "$TEST_DIR/errs1" "$TEST_DIR/errs2"'
test_expect_success 'Validating scans the input without the lock; a Stop meanwhile wins' '
	scen_ok unlocked && id=$(sed -n "s/^B //p" "$TEST_DIR/res/unlocked") &&
	grep "job $id: " "$TEST_DIR/lock.err" | sed "s/.*job $id: //" >got &&
	cat >want <<-\EOF &&
	Submitted -> Validating
	Validating -> Stopping
	validation ended while Stopping: result dropped
	Stopping -> Stopped
	EOF
	test_cmp want got
'
emu_stop --all

# S3 with SigV4 from curl (much quicker than starting the AWS CLI).
s3_get() {
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$EMU_URL/$1"
}
emu_start --name main --bucket cli-in --bucket new-one || exit 1
test_expect_success '--bucket: a new bucket made, an existing one kept with its objects' '
	s3_get "" >buckets &&
	grep -o "<Name>[^<]*</Name>" buckets >names &&
	printf "<Name>%s</Name>\n" cli-in cli-out in-bucket new-one out-bucket >want &&
	test_cmp want names &&
	s3_get "cli-in?list-type=2" >objs &&
	test_grep "<Key>batch/part-0001.jsonl</Key>" objs
'
emu_stop main
test_expect_success '--bucket and --durations: bad values are usage errors (exit 2)' '
	for bad in "--bucket Bad_Name" "--bucket ab" "--durations nosuch=1" \
		"--durations record=x" "--durations submitted" "--durations stopping=-1"; do
		test_expect_code 2 "$BB_EMU" --data-dir "$TEST_DIR/bad" $bad 2>err || return 1
		test_grep "usage\|Try" err || return 1
	done
'
test_expect_success '--help and the ready line: a write error on stdout is exit 2' '
	"$BB_EMU" --help >help.out &&
	test_grep "^usage: bb-emu" help.out &&
	test_expect_code 2 "$BB_EMU" --help >/dev/full 2>err &&
	test_grep "^bb-emu: error: write error on standard output" err &&
	test_expect_code 2 "$BB_EMU" --data-dir "$TEST_DIR/full" --listen 127.0.0.1:0 \
		>/dev/full 2>err &&
	test_grep "^bb-emu: error: write error on standard output" err
'

# A job file that cannot be read is a warning at start-up: shown by
# default, not with -q; the ready line is printed either way.
mkdir -p "$TEST_DIR/quiet/_jobs"
echo "{" >"$TEST_DIR/quiet/_jobs/broken.json"
emu_start --name quiet || exit 1
emu_stop quiet
test_expect_success 'without -q a warning is shown' '
	test_grep "warning: ignoring job file" "$TEST_DIR/quiet.err"
'
: >"$TEST_DIR/quiet.err"
emu_start --name quiet -q || exit 1
emu_stop quiet
test_expect_success '-q: the ready line on stdout, nothing on stderr' '
	test_grep "^bb-emu: listening on http://127.0.0.1:[0-9][0-9]*\$" "$TEST_DIR/quiet.out" &&
	test "$(wc -l <"$TEST_DIR/quiet.out")" -eq 1 &&
	! test -s "$TEST_DIR/quiet.err"
'

# Records are processed without bb-emu's lock: while large jobs are
# InProgress a Get is answered at once, not after the ticker's piece of
# records. Four jobs of 100,000 records each at 10,000 records a second:
# they stay InProgress for the whole test, the ticker busy every tick.
# (With the records processed under the lock, 40 jobs of 3 KB records
# made Gets take 1-2 s on a developer machine; this load is smaller to
# keep the test cheap, so it guards the design rather than measures it.)
br() {
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:bedrock" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}
busy_input() {
	awk 'BEGIN {
		for (i = 0; i < 100000; i++)
			printf "{\"recordId\":\"R%09d\",\"modelInput\":{\"anthropic_version\":" \
			    "\"bedrock-2023-05-31\",\"max_tokens\":20,\"messages\":[{\"role\":" \
			    "\"user\",\"content\":\"Q%d\"}]}}\n", i, i
	}' >big.jsonl &&
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T big.jsonl "$EMU_URL/busy-in/big.jsonl"
}
busy_create() {
	br -H "Content-Type: application/json" -X POST "$EMU_URL/model-invocation-job" \
		--data '{"jobName":"'"$1"'","roleArn":"arn:aws:iam::123456789012:role/R",
		"modelId":"anthropic.claude-3-haiku-20240307-v1:0",
		"inputDataConfig":{"s3InputDataConfig":{"s3Uri":"s3://busy-in/big.jsonl"}},
		"outputDataConfig":{"s3OutputDataConfig":{"s3Uri":"s3://busy-out/"}}}'
}
busy_status() {
	sed -n 's/.*"status":"\([A-Za-z]*\)".*/\1/p' get.json
}
emu_start --name busy --bucket busy-in --bucket busy-out --max-records 200000 \
	--durations submitted=0,validating=0,scheduled=0,record=0.0001 || exit 1
test_expect_success 'Gets answered within a second while large jobs are InProgress' '
	busy_input &&
	for n in 1 2 3 4; do
		busy_create busy$n >create.json || return 1
	done &&
	id=$(sed -n "s|.*model-invocation-job/\([a-z0-9]*\).*|\1|p" create.json) &&
	test -n "$id" &&
	for i in $(seq 100); do
		br -o get.json "$EMU_URL/model-invocation-job/$id" || return 1
		test "$(busy_status)" = InProgress && break
		sleep 0.05
	done &&
	: >times && : >counts &&
	for i in 1 2 3 4 5 6; do
		br -w "%{time_total}\n" -o get.json "$EMU_URL/model-invocation-job/$id" >>times &&
		test "$(busy_status)" = InProgress &&
		grep -o "\"processedRecordCount\":[0-9]*" get.json | cut -d : -f 2 >>counts &&
		sleep 0.3 || return 1
	done &&
	paste times counts &&
	awk "\$1 >= 1 { slow++ } END { exit slow > 0 }" times &&
	test "$(wc -l <counts)" -eq 6 &&
	first=$(head -n 1 counts) && last=$(tail -n 1 counts) &&
	test "$first" -lt "$last" && test "$last" -lt 100000
'
emu_stop busy

# Restarts: --durations makes the jobs start at once; record_s and
# stopping_s set through /_emu/faults freeze them for the restart. The
# scenarios must catch jobs InProgress with records processed, before
# they end: 2000 records of 0.01 s give them 20 s (nothing waits for that).
DUR=submitted=0,validating=0,scheduled=0,stopping=0.1
emu_start --name restart --durations "$DUR,record=0.01" || exit 1
"$PY" "$FIX/bedrock_jobs.py" --results "$TEST_DIR/res" "@$EMU_URL" stop=stop_running,2000 -- \
	"start=start,2000,$TEST_DIR/long"
test_expect_success 'Stop of a running job: Stopped, partial outputs and manifest' 'scen_ok stop'
test_expect_success 'jobs in progress and stopping, frozen by /_emu/faults ...' 'scen_ok start'
emu_stop restart
emu_start --name restart --durations "$DUR,record=0.0005,stopping=0" || exit 1
test_expect_success '... a restart of bb-emu: progress kept, Completed; Stopping ends Stopped with outputs' '
	jobs_py finish "$TEST_DIR/long" 2000
'
emu_stop restart

test_done
