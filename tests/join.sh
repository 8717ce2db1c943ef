#!/bin/sh
# join.sh - bb-join end to end: outputs on disk (--outputs) with hand-made
# Bedrock output files (tests/data/join), and outputs in S3 from bb-emu's
# jobs, with record errors, partially completed, expired and stopped jobs,
# and a retry round from --failed that completes the set.
. "$top_srcdir/tests/lib.sh"

D=$top_srcdir/tests/data/join
MODEL=anthropic.claude-3-haiku-20240307-v1:0
ARN=arn:aws:bedrock:us-east-1:123456789012:model-invocation-job

# Shard lines to job lines: job id job00000000N and a status per index
# (default Completed), in reverse order so bb-join has to reorder them.
to_jobs() {
	awk -v arn="$ARN" -v s2="${2:-Completed}" -v s3="${3:-PartiallyCompleted}" '{
		st = NR == 2 ? s2 : NR == 3 ? s3 : "Completed"
		sub(/}$/, ",\"job_arn\":\"" arn "/job00000000" NR "\",\"status\":\"" st "\"}")
		print }' "$1" | sed '1!G;h;$!d'
}

cd "$TEST_DIR" || exit 1
bb-shard -m $MODEL -t '{q}' --min-records 2 --max-records 4 -o shards "$D/rows.jsonl" \
	>shards.jsonl 2>/dev/null
to_jobs shards.jsonl >jobs.jsonl

test_expect_success 'three shards, their job lines in reverse order' '
	test $(wc -l <shards.jsonl) -eq 3 && head -n 1 jobs.jsonl | grep -q "\"index\":3"
'

test_expect_success 'rows come out in input order, one per row, with outputs and errors' '
	test_expect_code 1 bb-join -o "$D/out" jobs.jsonl >out.jsonl 2>err &&
	test_cmp "$D/expected.jsonl" out.jsonl
'

test_expect_success 'reconciliation: unknown recordIds, duplicates and the manifest' '
	test_grep "(shard 2): 1 output lines with unknown recordIds (e.g. .rUNKNOWN0001.)" err &&
	test_grep "(shard 2): 1 duplicate output lines" err &&
	test_grep "(shard 2): manifest.json.out says 4 records" err &&
	test_grep "11 rows: 6 succeeded, 5 failed (1 missing); tokens in 53, out 1048" err
'

test_expect_success '--failed: the original rows of failed and missing records' '
	test_expect_code 1 bb-join -q -o "$D/out" --failed failed.jsonl jobs.jsonl >/dev/null &&
	test_cmp "$D/failed.jsonl" failed.jsonl
'

test_expect_success '--retryable-only leaves out validation errors' '
	test_expect_code 1 bb-join -q -o "$D/out" --failed retry.jsonl --retryable-only \
		jobs.jsonl >/dev/null &&
	grep -v "\"id\": 3," "$D/failed.jsonl" >want &&
	test_cmp want retry.jsonl
'

test_expect_success '--unordered: the same rows' '
	test_expect_code 1 bb-join -q -o "$D/out" --unordered jobs.jsonl >un.jsonl &&
	sort un.jsonl >a && sort "$D/expected.jsonl" >b && test_cmp b a &&
	head -n 1 un.jsonl | grep -q "\"id\": 10,"
'

test_expect_success '--strict: mismatches make the exit status 1' '
	test_expect_code 1 bb-join -o "$D/out" --strict jobs.jsonl >/dev/null 2>e2 &&
	test_grep "3 reconciliation mismatches (--strict)" e2
'

test_expect_success 'rows from a pipe: read from the sidecars, the same result' '
	cat "$D/rows.jsonl" | test_expect_code 1 bb-shard -m $MODEL -t "{q}" \
		--min-records 2 --max-records 4 -o side >side.jsonl 2>/dev/null &&
	grep -q "\"sidecar\":" side.jsonl &&
	to_jobs side.jsonl >sjobs.jsonl &&
	test_expect_code 1 bb-join -q -o "$D/out" sjobs.jsonl >s.jsonl &&
	test_cmp "$D/expected.jsonl" s.jsonl
'

test_expect_success 'the shard file gone: rows without output are taken as rejected' '
	mkdir noshard && cp -r shards noshard/ &&
	sed "s|$TEST_DIR/shards|$TEST_DIR/noshard/shards|g" jobs.jsonl >nj.jsonl &&
	rm noshard/shards/part-00002.jsonl &&
	test_expect_code 1 bb-join -o "$D/out" nj.jsonl >n.jsonl 2>ne &&
	test_grep "cannot read the shard file" ne &&
	test $(wc -l <n.jsonl) -eq 11
'

test_expect_success '--format csv: header, input columns, then the result' '
	test_expect_code 1 bb-join -q -o "$D/out" --format csv jobs.jsonl >out.csv &&
	test_cmp "$D/expected.csv" out.csv
'

test_expect_success '--drop-input, --field and --raw' '
	test_expect_code 1 bb-join -q -o "$D/out" --drop-input --field answer --raw \
		jobs.jsonl >d.jsonl &&
	head -n 1 d.jsonl >first &&
	test_grep "^{\"record_id\":\"r0000000001\",\"row\":1,\"answer\":\"answer one\"" first &&
	test_grep "\"model_output\":{\"id\": \"msg_1\"" first &&
	! grep -q "\"q\":" d.jsonl
'

test_expect_success 'a job that has not finished: every row fails with its status' '
	to_jobs shards.jsonl InProgress Completed >ip.jsonl &&
	test_expect_code 1 bb-join -o "$D/out" ip.jsonl >ip.out 2>ip.err &&
	test $(grep -c "\"error\":{\"code\":\"InProgress\"" ip.out) -eq 4 &&
	test_grep "job status is .InProgress., not finished" ip.err
'

test_expect_success 'a shard that never comes: the others are joined, with a warning' '
	grep -v "\"index\":2," jobs.jsonl >gap.jsonl &&
	test_expect_code 1 bb-join -o "$D/out" gap.jsonl >gap.out 2>gap.err &&
	test_grep "shards 2 to 2 of .*rows.jsonl. never came" gap.err &&
	test $(wc -l <gap.out) -eq 7 && tail -n 1 gap.out | grep -q "\"id\": 12,"
'

test_expect_success 'a bad job line is reported with its position; the rest go on' '
	{ echo "{\"index\":1}"; echo "not json"; cat jobs.jsonl; } >bad.jsonl &&
	test_expect_code 1 bb-join -o "$D/out" bad.jsonl >bad.out 2>bad.err &&
	test_grep "no \"source\" object: not a line from bb-shard (at bad.jsonl:1)" bad.err &&
	test_grep "(at bad.jsonl:2)" bad.err &&
	test_cmp "$D/expected.jsonl" bad.out
'

test_expect_success 'all rows succeed: exit 0; without outputs: every row missing' '
	mkdir -p ok/job000000001 &&
	for i in 1 2 3 4; do
		printf "{\"recordId\":\"r000000000%s\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":\"a%s\"}]}}\n" $i $i
	done >ok/job000000001/part-00001.jsonl.out &&
	grep "\"index\":1," jobs.jsonl >one.jsonl &&
	bb-join -o ok one.jsonl >ok.out 2>ok.err &&
	test $(grep -c "\"output\":\"a[1-4]\"" ok.out) -eq 4 &&
	grep "\"index\":3," jobs.jsonl | sed "s/PartiallyCompleted/Completed/" >three.jsonl &&
	test_expect_code 1 bb-join -o ok three.jsonl >m.out 2>m.err &&
	test $(grep -c "\"code\":\"missing\"" m.out) -eq 3 &&
	test_grep "no output files in ok" m.err
'

test_expect_success 'a line without status needs --outputs' '
	sed "s/,\"status\":\"[A-Za-z]*\"//" jobs.jsonl >nostatus.jsonl &&
	test_expect_code 1 cfg_env ok bb-join nostatus.jsonl >/dev/null 2>ns.err &&
	test_grep "no \"status\": not a line from bb-wait" ns.err
'

test_expect_success 'embeddings: the vector under "embedding"' '
	for i in 1 2 3 4 5; do echo "{\"t\":\"text $i\"}"; done >emb.jsonl &&
	bb-shard -m amazon.titan-embed-text-v2:0 --text-field t --min-records 1 -o eshards \
		emb.jsonl >eshard.jsonl &&
	mkdir -p eout/job000000001 &&
	for i in 1 2 3 4 5; do
		printf "{\"recordId\":\"r000000000%s\",\"modelOutput\":{\"embedding\":[0.%s,-1],\"inputTextTokenCount\":%s}}\n" $i $i $i
	done >eout/job000000001/part-00001.jsonl.out &&
	to_jobs eshard.jsonl >ejobs.jsonl &&
	bb-join -q -o eout ejobs.jsonl >e.out &&
	head -n 1 e.out >e1 &&
	test_grep "^{\"t\":\"text 1\",\"embedding\":\\[0.1,-1\\],\"usage\":{\"input_tokens\":1}}\$" e1 &&
	bb-join -q -o eout --format csv ejobs.jsonl >e.csv &&
	test_grep "^\"text 1\"\\|^text 1,\"\\[0.1,-1\\]\",,1,,," e.csv
'

test_expect_success 'OpenAI batch rows come out as OpenAI batch output lines' '
	for i in 1 2 3; do
		echo "{\"custom_id\":\"req-$i\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}}"
	done >oa.jsonl &&
	bb-shard -m $MODEL -f openai --min-records 1 -o oshards oa.jsonl >oshard.jsonl &&
	id1=$(sed -n "s/.*\"first_record\":\"\\([^\"]*\\)\".*/\\1/p" oshard.jsonl) &&
	mkdir -p oout/job000000001 &&
	printf "{\"recordId\":\"%s\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":\"hello\"}],\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":2,\"output_tokens\":3}}}\n" "$id1" \
		>oout/job000000001/part-00001.jsonl.out &&
	to_jobs oshard.jsonl >ojobs.jsonl &&
	test_expect_code 1 bb-join -q -o oout ojobs.jsonl >o.out &&
	head -n 1 o.out >o1 &&
	test_grep "^{\"id\":\"batch_req_$id1\",\"custom_id\":\"req-1\",\"response\":{\"status_code\":200," o1 &&
	test_grep "\"content\":\"hello\"},\"finish_reason\":\"length\"}\\],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,\"total_tokens\":5}}},\"error\":null}\$" o1 &&
	test_grep "\"custom_id\":\"req-2\",\"response\":null,\"error\":{\"code\":\"missing\"" o.out
'

test_expect_success 'CSV rows: JSON objects of the header, --failed keeps the CSV with its header' '
	printf "id,q\r\n1,\"a, b\"\r\n2,plain\r\n3,\"multi\nline\"\r\n" >rows.csv &&
	bb-shard -m $MODEL -t "{q}" --min-records 1 -o cshards rows.csv >cshard.jsonl &&
	mkdir -p cout/job000000001 &&
	printf "{\"recordId\":\"r0000000002\",\"modelOutput\":{\"content\":[{\"type\":\"text\",\"text\":\"two\"}]}}\n" \
		>cout/job000000001/part-00001.jsonl.out &&
	to_jobs cshard.jsonl >cjobs.jsonl &&
	test_expect_code 1 bb-join -q -o cout --failed cfailed.csv cjobs.jsonl >c.out &&
	sed -n 2p c.out >c2 &&
	test_grep "^{\"id\":\"2\",\"q\":\"plain\",\"output\":\"two\"}\$" c2 &&
	printf "id,q\n1,\"a, b\"\n3,\"multi\nline\"\n" >want.csv &&
	test_cmp want.csv cfailed.csv &&
	test_expect_code 1 bb-join -q -o cout --format csv cjobs.jsonl >c.csv &&
	printf "id,q,output,stop_reason,input_tokens,output_tokens,error_code,error_message\r\n" >h &&
	head -n 1 c.csv >h2 && test_cmp h h2
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 bb-join --format xml </dev/null 2>u1 &&
	test_expect_code 2 bb-join --retryable-only </dev/null 2>u2 &&
	test_expect_code 2 bb-join -o /nonexistent </dev/null 2>u3 &&
	test_grep "is not a directory" u3
'

test_expect_success 'configuration errors: exit 2 at once when outputs are in S3' '
	for c in nocreds noregion sso role; do
		test_expect_code 2 cfg_env $c timeout 20 bb-join jobs.jsonl >cfg.out 2>cfg.err &&
		! test -s cfg.out && test_grep "^bb-join: error: " cfg.err &&
		test_grep -F "$(cfg_msg $c)" cfg.err || return 1
	done &&
	test_expect_code 1 cfg_env nocreds bb-join -o "$D/out" jobs.jsonl >cfg.out 2>/dev/null &&
	test_cmp "$D/expected.jsonl" cfg.out
'

# ---- S3 and bb-emu ----

if ! emu_available || ! command -v curl >/dev/null 2>&1 ||
	! curl --help all 2>/dev/null | grep -q aws-sigv4; then
	test_skip 'S3: a whole run with 5% record errors and a retry round' \
		'bb-emu or curl with --aws-sigv4 is missing'
	test_skip 'S3: partially completed and expired jobs' 'bb-emu or curl is missing'
	test_done
	exit $?
fi

emu_start --min-records 1 --time-scale 100000 --seed 7 || exit 1
SIG="--user $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"

s3_put() {	# FILE KEY
	curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 $SIG \
		-H x-amz-content-sha256:UNSIGNED-PAYLOAD -T "$1" "$EMU_URL/bkt/$2" >/dev/null
}

# Upload the shards of a shard-line file, run a job each, wait, and print
# the job lines as bb-wait would (status, message, output_s3_uri).
run_jobs() {	# SHARDLINES OUT
	: >"$2"
	while IFS= read -r line; do
		shard=$(printf "%s\n" "$line" | sed 's/.*"shard":"\([^"]*\)".*/\1/')
		key=in/$(basename "$(dirname "$shard")")/$(basename "$shard")
		s3_put "$shard" "$key" || return 1
		arn=$(curl -sS -f --aws-sigv4 aws:amz:us-east-1:bedrock $SIG \
			-H 'Content-Type: application/json' \
			-d "{\"jobName\":\"j$(date +%s%N)\",\"roleArn\":\"arn:aws:iam::123456789012:role/r\",\"modelId\":\"$MODEL\",\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://bkt/$key\"}},\"outputDataConfig\":{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://bkt/out/\"}}}" \
			"$EMU_URL/model-invocation-job" | sed 's/.*"jobArn":"\([^"]*\)".*/\1/') ||
			return 1
		id=${arn##*/}
		i=0
		while :; do
			st=$(curl -sS -f --aws-sigv4 aws:amz:us-east-1:bedrock $SIG \
				"$EMU_URL/model-invocation-job/$id" |
				sed 's/.*"status":"\([A-Za-z]*\)".*/\1/')
			case $st in
			Completed|PartiallyCompleted|Failed|Stopped|Expired) break ;;
			esac
			i=$((i + 1))
			test $i -lt 300 || return 1
			sleep 0.1
		done
		printf "%s\n" "$line" | sed "s|}\$|,\"job_arn\":\"$arn\",\"output_s3_uri\":\"s3://bkt/out/\",\"status\":\"$st\"}|" >>"$2"
	done <"$1"
}

curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 $SIG -H x-amz-content-sha256:UNSIGNED-PAYLOAD \
	-X PUT -d '' "$EMU_URL/bkt" >/dev/null

test_expect_success 'S3: a whole run with 5% record errors and a retry round' '
	awk "BEGIN { for (i = 1; i <= 300; i++) printf \"{\\\"n\\\":%d,\\\"q\\\":\\\"question %d\\\"}\\n\", i, i }" >big.jsonl &&
	emu_faults "{\"record_error_rate\":0.05}" >/dev/null &&
	bb-shard -m $MODEL -t "{q}" --min-records 50 --max-records 100 -o r1 big.jsonl >r1.jsonl &&
	run_jobs r1.jsonl r1jobs.jsonl &&
	sed "1!G;h;\$!d" r1jobs.jsonl >r1rev.jsonl &&
	test_expect_code 1 bb-join --failed f1.jsonl r1rev.jsonl >res1.jsonl 2>j1.err &&
	test $(wc -l <res1.jsonl) -eq 300 &&
	nf=$(wc -l <f1.jsonl) && test $nf -gt 0 && test $nf -lt 60 &&
	test $(grep -c "\"error\":{\"code\":" res1.jsonl) -eq $nf &&
	sed "s/,\"output\".*//; s/,\"error\".*//" res1.jsonl | sed "s/\$/}/" >order &&
	test_cmp big.jsonl order &&
	emu_faults "{\"record_error_rate\":0}" >/dev/null &&
	bb-shard -m $MODEL -t "{q}" --min-records 1 -o r2 f1.jsonl >r2.jsonl &&
	run_jobs r2.jsonl r2jobs.jsonl &&
	bb-join r2jobs.jsonl >res2.jsonl 2>j2.err &&
	cat res1.jsonl res2.jsonl | grep "\"output\":" |
		sed "s/^{\"n\":\\([0-9]*\\),.*/\\1/" | sort -n >ok.ids &&
	seq 1 300 >all.ids && test_cmp all.ids ok.ids
'

test_expect_success 'S3: --trace FILE: the requests, secrets redacted; the same rows' '
	bb-join --trace trace r2jobs.jsonl >res3.jsonl 2>j3.err &&
	test_cmp res2.jsonl res3.jsonl &&
	test_grep -q "> GET /bkt/out/" trace &&
	test_grep -q "Authorization: .*<redacted>" trace &&
	! grep -F "$AWS_SECRET_ACCESS_KEY" trace &&
	! grep "Signature=[0-9a-f]" trace
'

# bb-emu loses the answers of the next eleven GETs of output objects: more
# than the HTTP layer's five tries can take (two each at most, with
# libcurl's own retry of a reused connection), so the first read of the
# job's outputs fails, and bb-join reads them again after a pause.
test_expect_success 'S3: outputs unreadable for a while (lost answers): read again, the same rows' '
	emu_lose 11 "GET /bkt/out/" &&
	bb-join r2jobs.jsonl >res4.jsonl 2>j4.err; rc=$?;
	emu_faults "{\"lose_next\":0}" >/dev/null &&
	test $rc -eq 0 && test_cmp res2.jsonl res4.jsonl &&
	test_grep "cannot read the outputs: .*; trying again in [0-9.]* s" j4.err
'

test_expect_success 'S3: outputs that cannot be read (no such bucket): no retry, rows left out, exit 1' '
	head -n 1 r2jobs.jsonl | sed "s|\"output_s3_uri\":\"s3://bkt/|\"output_s3_uri\":\"s3://nobkt/|" \
		>nob.jsonl && test_grep -q nobkt nob.jsonl &&
	test_expect_code 1 bb-join nob.jsonl >nob.out 2>nob.err &&
	test_grep "NoSuchBucket.*its rows are left out" nob.err &&
	! grep -q "trying again" nob.err && ! test -s nob.out
'

test_expect_success 'S3: partially completed and expired jobs keep what they produced' '
	emu_faults "{\"partial_rate\":1}" >/dev/null &&
	head -n 1 r1.jsonl >p.jsonl && run_jobs p.jsonl pjobs.jsonl &&
	emu_faults "{\"partial_rate\":0,\"expire_rate\":1}" >/dev/null &&
	sed -n 2p r1.jsonl >x.jsonl && run_jobs x.jsonl xjobs.jsonl &&
	emu_faults "{\"expire_rate\":0}" >/dev/null &&
	grep -q "\"status\":\"PartiallyCompleted\"" pjobs.jsonl &&
	grep -q "\"status\":\"Expired\"" xjobs.jsonl &&
	cat pjobs.jsonl xjobs.jsonl >px.jsonl &&
	test_expect_code 1 bb-join px.jsonl >px.out 2>px.err &&
	n=$(sed -n "s/.*\"records\":\\([0-9]*\\).*/\\1/p" p.jsonl x.jsonl | awk "{ s += \$1 } END { print s }") &&
	test $(wc -l <px.out) -eq $n &&
	sed -n "1,100p" px.out >part1 && grep -q "\"output\":" part1 &&
	grep -q "\"code\":\"PartiallyCompleted\"" part1 &&
	test $(grep -c "\"code\":\"Expired\"" px.out) -ge 1
'

# A job stopped while InProgress: records at 100 s of real time each
# (record_s 1e4 at --time-scale 100000) until the first is processed,
# then frozen (record_s huge) and stopped, so it is always caught part way.
br() {	# curl ARGS... to Bedrock
	curl -sS -f --aws-sigv4 aws:amz:us-east-1:bedrock $SIG "$@"
}
job_count() {	# FIELD of the Get in g.json
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" g.json
}
test_expect_success 'S3: a stopped job keeps its outputs, the other rows fail Stopped' '
	sed -n 3p r1.jsonl >s.jsonl &&
	shard=$(sed "s/.*\"shard\":\"\([^\"]*\)\".*/\1/" s.jsonl) &&
	n=$(sed "s/.*\"records\":\([0-9]*\).*/\1/" s.jsonl) &&
	key=in/stop/$(basename "$shard") && s3_put "$shard" "$key" &&
	emu_faults "{\"record_s\":1e4}" >/dev/null &&
	br -H "Content-Type: application/json" -o c.json -d "{\"jobName\":\"stop-me\",\"roleArn\":\"arn:aws:iam::123456789012:role/r\",\"modelId\":\"$MODEL\",\"inputDataConfig\":{\"s3InputDataConfig\":{\"s3Uri\":\"s3://bkt/$key\"}},\"outputDataConfig\":{\"s3OutputDataConfig\":{\"s3Uri\":\"s3://bkt/out/\"}}}" \
		"$EMU_URL/model-invocation-job" &&
	arn=$(sed "s/.*\"jobArn\":\"\([^\"]*\)\".*/\1/" c.json) && id=${arn##*/} &&
	for i in $(seq 200); do
		br -o g.json "$EMU_URL/model-invocation-job/$id" || return 1
		test "$(job_count processedRecordCount)" -gt 0 2>/dev/null && break
		sleep 0.05
	done &&
	emu_faults "{\"record_s\":1e9}" >/dev/null &&
	br -X POST -o /dev/null "$EMU_URL/model-invocation-job/$id/stop" &&
	for i in $(seq 200); do
		br -o g.json "$EMU_URL/model-invocation-job/$id" || return 1
		grep -q "\"status\":\"Stopped\"" g.json && break
		sleep 0.05
	done &&
	emu_faults "{\"record_s\":0.05}" >/dev/null &&
	grep -q "\"status\":\"Stopped\"" g.json &&
	done=$(job_count processedRecordCount) &&
	test "$done" -gt 0 && test "$done" -lt "$n" &&
	sed "s|}\$|,\"job_arn\":\"$arn\",\"output_s3_uri\":\"s3://bkt/out/\",\"status\":\"Stopped\"}|" \
		s.jsonl >sjobs.jsonl &&
	test_expect_code 1 bb-join --failed sf.jsonl sjobs.jsonl >s.out 2>s.err &&
	test $(wc -l <s.out) -eq "$n" &&
	test $(grep -c "\"output\":" s.out) -eq "$done" &&
	test $(grep -c "\"error\":{\"code\":\"Stopped\"" s.out) -eq $((n - done)) &&
	test $(wc -l <sf.jsonl) -eq $((n - done))
'

# bb-emu keeps a multipart object as its parts; a job reads its input
# where it lies, lines running across the part boundaries.
test_expect_success 'S3: a job whose input came in parts (lines across the boundaries)' '
	emu_faults "{\"record_error_rate\":0,\"partial_rate\":0,\"expire_rate\":0,\"record_s\":0.05}" >/dev/null &&
	pad=$(head -c 3000 /dev/zero | tr "\\0" x) &&
	awk -v pad="$pad" "BEGIN { for (i = 1; i <= 4000; i++) printf \"{\\\"n\\\":%d,\\\"q\\\":\\\"%d %s\\\"}\\n\", i, i, pad }" >mp.jsonl &&
	bb-shard -m $MODEL -t "{q}" --min-records 1 -o mp mp.jsonl >mp.shards &&
	test $(wc -l <mp.shards) -eq 1 &&
	bb-upload -q -t s3://bkt/mp/ --part-size 5MiB --multipart-threshold 5MiB <mp.shards >mp.up &&
	grep -q "\"etag\":\"\\\\\"[0-9a-f]*-3\\\\\"\"" mp.up &&
	bb-submit -q -r arn:aws:iam::123456789012:role/r -o s3://bkt/mpout/ <mp.up >mp.sub &&
	bb-wait -q --interval 0.05s <mp.sub >mp.jobs &&
	bb-join mp.jobs >mp.res &&
	test $(grep -c "\"output\":" mp.res) -eq 4000 &&
	sed "s/,\"output\".*//; s/,\"error\".*//" mp.res | sed "s/\$/}/" >mp.order &&
	test_cmp mp.jsonl mp.order
'

test_done
