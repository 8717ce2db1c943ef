#!/bin/sh
# emu-bedrock.sh - bb-emu's four Bedrock batch operations, driven by the
# AWS CLI and by boto3 (tests/fixtures/bedrock_api.py): what the SDK sends,
# what it parses out of every response, every constraint of the service
# model, idempotency, the concurrency quota, pagination, Stop conflicts.
. "$top_srcdir/tests/lib.sh"

test_require emu boto3 aws

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

# Scale 10: Submitted lasts 0.5 s, Stopping 0.2 s; Validating 100 s, so
# that the jobs made for the AWS CLI tests are still there to stop.
emu_start --name api --time-scale 10 --durations validating=1000,stopping=2 \
	--max-concurrent 1000 --seed 1 || test_skip_all "bb-emu did not start"
A="aws --endpoint-url $EMU_URL_api"
# Scale 1: jobs stay Submitted/Validating for 35 s, so they keep counting.
emu_start --name quota --max-concurrent 2 --seed 2 || exit 1

# Every boto3 scenario in one python process (its start-up is most of a
# scenario's time); scen_ok (lib.sh) reads what each left in res/.
mkdir -p "$TEST_DIR/res"
SCENARIOS="create_get validation identifiers idempotency list stop"
set --
for s in $SCENARIOS; do
	set -- "$@" "$s=$s"
done
"$PY" "$FIX/bedrock_api.py" --results "$TEST_DIR/res" "@$EMU_URL_api" "$@" \
	"cli_fixtures=cli_fixtures,$TEST_DIR/stop-me" "@$EMU_URL_quota" quota=quota,2
for s in $SCENARIOS; do
	test_expect_success "boto3: $s" "scen_ok $s"
done
test_expect_success 'boto3: the concurrency quota per model (--max-concurrent 2)' 'scen_ok quota'
emu_stop quota
emu_use api

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
emu_stop api

test_done
