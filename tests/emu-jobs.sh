#!/bin/sh
# emu-jobs.sh - whole batch jobs in bb-emu: the AWS CLI, unmodified, runs
# one from upload to download; then (boto3, tests/fixtures/bedrock_jobs.py)
# every model family's output shape, output layout, validation failures,
# fault injection (reproducible by seed), Stop of a running job, and a
# restart of the emulator in the middle of a job.
. "$top_srcdir/tests/lib.sh"

BB_EMU=$top_builddir/cmd/bb-emu/bb-emu
FIX=$top_srcdir/tests/fixtures
PY=${PYTHON3:-python3}

test -x "$BB_EMU" || test_skip_all "bb-emu not built (libmicrohttpd missing?)"
"$PY" -c 'import boto3' 2>/dev/null || test_skip_all "python3 boto3 not installed"
command -v aws >/dev/null 2>&1 || test_skip_all "the AWS CLI (aws) is not installed"

AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
AWS_DEFAULT_REGION=us-east-1
AWS_CONFIG_FILE=/dev/null
AWS_SHARED_CREDENTIALS_FILE=/dev/null
AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_CONFIG_FILE \
	AWS_SHARED_CREDENTIALS_FILE AWS_EC2_METADATA_DISABLED
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL 2>/dev/null

emu_up() {
	_n=$1
	shift
	mkdir -p "$TEST_DIR/$_n"
	rm -f "$TEST_DIR/$_n.out"   # a restart must not read the last run's port
	"$BB_EMU" --data-dir "$TEST_DIR/$_n" --listen 127.0.0.1:0 "$@" \
		>"$TEST_DIR/$_n.out" 2>>"$TEST_DIR/$_n.log" &
	EMU_PID=$!
	test_at_exit "kill $EMU_PID"
	_i=0
	while ! grep -q 'listening on' "$TEST_DIR/$_n.out" 2>/dev/null; do
		_i=$((_i + 1))
		test $_i -lt 100 || { cat "$TEST_DIR/$_n.log" >&2; return 1; }
		sleep 0.05
	done
	EMU_URL=$(sed -n 's/.*listening on //p' "$TEST_DIR/$_n.out")
}
emu_down() {
	kill -TERM "$EMU_PID" && wait "$EMU_PID"
}
jobs_py() {
	"$PY" "$FIX/bedrock_jobs.py" "$EMU_URL" "$@"
}

# Scale 1000: the 95 s before InProgress pass in a tenth of a second.
emu_up main --time-scale 1000 --seed 3 -v || test_skip_all "bb-emu did not start"
A="aws --endpoint-url $EMU_URL"

test_expect_success 'the AWS CLI runs a whole batch job' '
	"$PY" -c "
import json
for i in range(150):
    mi = {\"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\": 100,
          \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Q%d\" % i}]}]}
    if i % 50 == 7:
        mi = {\"max_tokens\": 5}
    print(json.dumps({\"recordId\": \"REC%08d\" % i, \"modelInput\": mi}))
" >in.jsonl &&
	$A s3 mb s3://cli-in && $A s3 mb s3://cli-out &&
	$A s3 cp in.jsonl s3://cli-in/batch/part-0001.jsonl &&
	$A bedrock create-model-invocation-job --job-name cli-run \
		--role-arn arn:aws:iam::123456789012:role/BatchRole \
		--model-id anthropic.claude-3-haiku-20240307-v1:0 \
		--input-data-config "{\"s3InputDataConfig\":{\"s3Uri\":\"s3://cli-in/batch/\"}}" \
		--output-data-config "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://cli-out/results/\"}}" \
		--query jobArn --output text >arn &&
	arn=$(cat arn) && id=${arn##*/} &&
	for i in $(seq 200); do
		st=$($A bedrock get-model-invocation-job --job-identifier "$arn" \
			--query status --output text) || return 1
		case $st in Completed|Failed|PartiallyCompleted|Stopped|Expired) break ;; esac
		sleep 0.1
	done &&
	test "$st" = Completed &&
	$A bedrock get-model-invocation-job --job-identifier "$arn" \
		--query "[totalRecordCount,processedRecordCount,successRecordCount,errorRecordCount]" \
		--output text >counts &&
	printf "150\t150\t147\t3\n" >want && test_cmp want counts &&
	$A s3 ls "s3://cli-out/results/$id/" >ls &&
	grep " manifest.json.out\$" ls && grep " part-0001.jsonl.out\$" ls &&
	$A s3 cp --recursive "s3://cli-out/results/$id/" out/ &&
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
	grep "job $id: " "$TEST_DIR/main.log" | sed "s/.*job $id: //" >got &&
	cat >want <<-\EOF &&
	Submitted -> Validating
	Validating -> Scheduled
	Scheduled -> InProgress
	InProgress -> Completed
	EOF
	test_cmp want got
'

for f in anthropic nova converse titan2 titan1 llama mistral mistralchat cohere; do
	test_expect_success "model family $f: real modelOutput shapes, error lines for bad modelInput" \
		"jobs_py family $f"
done
test_expect_success 'same input, same outputs; output order shuffled; max_tokens' 'jobs_py determinism'
test_expect_success 'output layout: files under a prefix, single object, bare bucket' 'jobs_py layout'
test_expect_success 'Validating fails bad input data with Bedrock-like messages' 'jobs_py invalid'
emu_down

emu_up quota --time-scale 1000 --max-records 150 || exit 1
test_expect_success '--max-records: a file over the records quota fails' 'jobs_py records_quota 150'
emu_down

emu_up fail --time-scale 1000 --fail-rate 1 || exit 1
test_expect_success '--fail-rate 1: the job fails' 'jobs_py job_fault Failed'
emu_down
emu_up partial --time-scale 1000 --partial-rate 1 || exit 1
test_expect_success '--partial-rate 1: PartiallyCompleted' 'jobs_py job_fault PartiallyCompleted'
emu_down
emu_up expire --time-scale 100000 --expire-rate 1 || exit 1
test_expect_success '--expire-rate 1: Expired at jobExpirationTime' 'jobs_py job_fault Expired'
emu_down

emu_up err1 --time-scale 1000 --record-error-rate 0.3 --seed 42 || exit 1
test_expect_success '--record-error-rate 0.3: error lines, job Completed' \
	'jobs_py record_errors 0.3 "$TEST_DIR/errs1"'
emu_down
emu_up err2 --time-scale 1000 --record-error-rate 0.3 --seed 42 || exit 1
test_expect_success 'the same seed fails the same records' \
	'jobs_py record_errors 0.3 "$TEST_DIR/errs2" && test_cmp "$TEST_DIR/errs1" "$TEST_DIR/errs2"'
emu_down

emu_up restart --time-scale 50 || exit 1
test_expect_success 'Stop of a running job: Stopped, partial outputs and manifest' \
	'jobs_py stop_running 2000'
test_expect_success 'a job in progress ...' '
	jobs_py start 2000 >start.out && sed -n "s/^ARN //p" start.out >"$TEST_DIR/long-arn" &&
	test -s "$TEST_DIR/long-arn"
'
emu_down
emu_up restart --time-scale 50 || exit 1
test_expect_success '... survives a restart of bb-emu and completes' '
	jobs_py finish "$(cat "$TEST_DIR/long-arn")" 2000
'
emu_down

test_done
