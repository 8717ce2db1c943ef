#!/bin/sh
# emu-bedrock.sh - bb-emu's four Bedrock batch operations, driven by the
# AWS CLI and by boto3 (tests/fixtures/bedrock_api.py): what the SDK sends,
# what it parses out of every response, every constraint of the service
# model, idempotency, the concurrency quota, pagination, Stop conflicts.
. "$top_srcdir/tests/lib.sh"

BB_EMU=$top_builddir/cmd/bb-emu/bb-emu
FIX=$top_srcdir/tests/fixtures
PY=${PYTHON3:-python3}

test -x "$BB_EMU" || test_skip_all "bb-emu not built (libmicrohttpd missing?)"
"$PY" -c 'import boto3' 2>/dev/null || test_skip_all "python3 boto3 not installed"
command -v aws >/dev/null 2>&1 || test_skip_all "the AWS CLI (aws) is not installed"

# The test key pair bb-emu accepts by default; no user configuration.
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
AWS_DEFAULT_REGION=us-east-1
AWS_CONFIG_FILE=/dev/null
AWS_SHARED_CREDENTIALS_FILE=/dev/null
AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_CONFIG_FILE \
	AWS_SHARED_CREDENTIALS_FILE AWS_EC2_METADATA_DISABLED
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL 2>/dev/null

# emu_up NAME [OPTIONS...]: start bb-emu on DATA dir $TEST_DIR/NAME; sets
# EMU_URL and EMU_PID.
emu_up() {
	_n=$1
	shift
	mkdir -p "$TEST_DIR/$_n"
	rm -f "$TEST_DIR/$_n.out"   # a restart must not read the last run's port
	"$BB_EMU" --data-dir "$TEST_DIR/$_n" --listen 127.0.0.1:0 "$@" \
		>"$TEST_DIR/$_n.out" 2>"$TEST_DIR/$_n.log" &
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
# The AWS CLI exits 255 (v1) or 254 (v2) on a service error: not a crash.
cli_must_fail() {
	"$@"
	_rc=$?
	case $_rc in
	0) echo "cli_must_fail: command succeeded: $*" >&2; return 1 ;;
	254|255) return 0 ;;
	*) test $_rc -le 125 ;;
	esac
}
emu_down() {
	kill -TERM "$EMU_PID" && wait "$EMU_PID"
}

# Scale 10: Submitted lasts 0.5 s, Stopping 0.2 s; Validating 100 s, so
# that the jobs made for the AWS CLI tests are still there to stop.
emu_up api --time-scale 10 --durations validating=1000,stopping=2 --max-concurrent 1000 --seed 1 ||
	test_skip_all "bb-emu did not start"
A="aws --endpoint-url $EMU_URL"
API_URL=$EMU_URL API_PID=$EMU_PID
# Scale 1: jobs stay Submitted/Validating for 35 s, so they keep counting.
emu_up quota --max-concurrent 2 --seed 2 || exit 1
QUOTA_URL=$EMU_URL QUOTA_PID=$EMU_PID

# Every boto3 scenario in one python process (its start-up is most of a
# scenario's time); scen_ok LABEL shows what one printed, passes if it did.
mkdir -p "$TEST_DIR/res"
SCENARIOS="create_get validation identifiers idempotency list stop"
set --
for s in $SCENARIOS; do
	set -- "$@" "$s=$s"
done
"$PY" "$FIX/bedrock_api.py" --results "$TEST_DIR/res" "@$API_URL" "$@" \
	"cli_fixtures=cli_fixtures,$TEST_DIR/stop-me" "@$QUOTA_URL" quota=quota,2
scen_ok() {
	cat "$TEST_DIR/res/$1" 2>/dev/null && test "$(tail -n 1 "$TEST_DIR/res/$1")" = PASS
}
for s in $SCENARIOS; do
	test_expect_success "boto3: $s" "scen_ok $s"
done
test_expect_success 'boto3: the concurrency quota per model (--max-concurrent 2)' 'scen_ok quota'
kill -TERM "$QUOTA_PID" && wait "$QUOTA_PID"
EMU_URL=$API_URL EMU_PID=$API_PID

test_expect_success 'aws bedrock create-model-invocation-job prints the jobArn' '
	$A bedrock create-model-invocation-job --job-name cli-job \
		--role-arn arn:aws:iam::123456789012:role/BatchRole \
		--model-id amazon.titan-embed-text-v2:0 \
		--input-data-config "{\"s3InputDataConfig\":{\"s3Uri\":\"s3://in-bucket/cli/\"}}" \
		--output-data-config "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://out-bucket/cli/\"}}" \
		--timeout-duration-in-hours 48 --tags key=run,value=7 \
		--query jobArn --output text >arn &&
	grep -E "^arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/[a-z0-9]{12}\$" arn
'

test_expect_success 'aws bedrock get-model-invocation-job by ARN and by id' '
	arn=$(cat arn) && id=${arn##*/} &&
	$A bedrock get-model-invocation-job --job-identifier "$arn" \
		--query "[jobName,modelId,timeoutDurationInHours,modelInvocationType]" \
		--output text >got &&
	printf "cli-job\tamazon.titan-embed-text-v2:0\t48\tInvokeModel\n" >want &&
	test_cmp want got &&
	$A bedrock get-model-invocation-job --job-identifier "$id" --query jobArn \
		--output text >got2 &&
	test_cmp arn got2
'

test_expect_success 'aws bedrock list-model-invocation-jobs finds it' '
	$A bedrock list-model-invocation-jobs --name-contains cli-job \
		--query "invocationJobSummaries[].jobName" --output text >got &&
	echo cli-job >want &&
	test_cmp want got
'

test_expect_success 'aws bedrock list-model-invocation-jobs paginates (CLI auto-pagination)' '
	scen_ok cli_fixtures >/dev/null &&
	$A bedrock list-model-invocation-jobs --name-contains pg- --page-size 1 \
		--sort-order Ascending --query "invocationJobSummaries[].jobName" --output text >out &&
	tr -s "\t" "\n" <out >got &&
	printf "pg-1\npg-2\npg-3\n" >want &&
	test_cmp want got
'

test_expect_success 'aws bedrock stop-model-invocation-job, then a Conflict once it ended' '
	arn=$(cat "$TEST_DIR/stop-me") &&
	$A bedrock stop-model-invocation-job --job-identifier "$arn" &&
	sleep 0.3 &&
	for i in $(seq 30); do
		st=$($A bedrock get-model-invocation-job --job-identifier "$arn" \
			--query status --output text) &&
		test "$st" = Stopped && break
		sleep 0.2
	done &&
	test "$st" = Stopped &&
	cli_must_fail $A bedrock stop-model-invocation-job --job-identifier "$arn" 2>err &&
	grep ConflictException err
'

test_expect_success 'aws bedrock: a timeout out of 24..168 is a ValidationException' '
	cli_must_fail $A bedrock create-model-invocation-job --job-name bad-timeout \
		--role-arn arn:aws:iam::123456789012:role/BatchRole \
		--model-id amazon.nova-lite-v1:0 \
		--input-data-config "{\"s3InputDataConfig\":{\"s3Uri\":\"s3://in-bucket/x/\"}}" \
		--output-data-config "{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://out-bucket/x/\"}}" \
		--timeout-duration-in-hours 200 2>err &&
	grep "ValidationException" err &&
	grep "Member must have value less than or equal to 168" err
'

test_expect_success 'aws bedrock get of an unknown job: ResourceNotFoundException' '
	cli_must_fail $A bedrock get-model-invocation-job --job-identifier zzzzzzzzzzzz 2>err &&
	grep ResourceNotFoundException err
'

test_expect_success 'jobs are files in the data dir' '
	arn=$(cat arn) &&
	test -f "$TEST_DIR/api/_jobs/${arn##*/}.json"
'
emu_down

test_done
