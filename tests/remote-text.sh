#!/bin/sh
# remote-text.sh - text that came from the service or from input reaches the
# terminal escaped: bb-wait's messages about a job whose status and message
# hold terminal escapes, bb-submit's about an unknown invocation_type and
# about a model id with escapes (-v notes on the quota, the quota info, the
# error when it gives up).
. "$top_srcdir/tests/lib.sh"

command -v bb-wait >/dev/null 2>&1 || test_skip_all "bb-wait is not built"
command -v bb-submit >/dev/null 2>&1 || test_skip_all "bb-submit is not built"
command -v "${PYTHON3:-python3}" >/dev/null 2>&1 || test_skip_all "no python3 for the fake service"

cd "$TEST_DIR" || exit 1

# A fake Bedrock: GetModelInvocationJob answers a job whose status and
# message carry ESC, BEL and CR (job ids starting with "bad": status
# "Failed"; "odd": an unknown status). ListModelInvocationJobs answers one
# InProgress job of the model "m ESC[2Jx BEL"; CreateModelInvocationJob
# answers ServiceQuotaExceededException for a modelId starting with "q",
# else a ValidationException. Any other request is a 404.
cat >server.py <<'EOF'
import json
from urllib.parse import unquote
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def answer(self, status, body, etype=None):
        body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if etype:
            self.send_header("x-amzn-ErrorType", etype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        if not self.path.startswith("/model-invocation-job"):
            self.answer(404, {"message": "not found"}, "ResourceNotFoundException")
        elif req.get("modelId", "").startswith("q"):
            self.answer(400, {"message": "quota \x1b[31mfull"},
                        "ServiceQuotaExceededException")
        else:
            self.answer(400, {"message": "bad \x1b[2J model"}, "ValidationException")

    def do_GET(self):
        path = unquote(self.path)
        tail = path.rsplit("/", 1)[-1]
        if path.startswith("/model-invocation-jobs"):
            self.answer(200, {"invocationJobSummaries": [{
                "jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/busy00000001",
                "jobName": "busy", "modelId": "m\x1b[2Jx\x07", "status": "InProgress",
                "submitTime": "2026-01-01T00:00:00Z"}]})
            return
        if "/model-invocation-job/" in path and tail[:3] in ("bad", "odd"):
            job = {"jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/" + tail,
                   "status": "Failed" if tail.startswith("bad") else "\x1b[2JOdd\x07",
                   "message": "boom \x1b]0;title\x07 \x1b[31mred\r over",
                   "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/o/"}}}
            body = json.dumps(job).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"message":"not found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
"${PYTHON3:-python3}" server.py >port 2>server.err &
SERVER_PID=$!
test_at_exit "kill $SERVER_PID 2>/dev/null"
_i=0
while ! test -s port && test $_i -lt 100; do
	sleep 0.05
	_i=$((_i + 1))
done
test -s port || test_skip_all "the fake service does not start"

emu_aws_env "http://127.0.0.1:$(cat port)" AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

ARN=arn:aws:bedrock:us-east-1:123456789012:model-invocation-job
ESC=$(printf '\033')
BEL=$(printf '\007')
CR=$(printf '\r')

# no_raw_controls FILE: no ESC, BEL or CR in FILE
no_raw_controls() {
	if grep -q "[$ESC$BEL$CR]" "$1"; then
		echo "raw control characters in $1:" >&2
		od -c "$1" | head -n 20 >&2
		return 1
	fi
}

test_expect_success 'bb-wait: a failed job whose status and message hold escapes' '
	printf "{\"job_arn\":\"%s/bad000000001\"}\n" "$ARN" >in1 &&
	test_expect_code 1 bb-wait -v --interval 0.1 in1 >out1 2>err1 &&
	no_raw_controls err1 &&
	test_grep "job .bad000000001. Failed: boom \\\\x1b\\]0;title\\\\x07 \\\\x1b\\[31mred\\\\r over" err1 &&
	test_grep "\"status\":\"Failed\"" out1
'

test_expect_success 'bb-wait -v: an unknown status is shown escaped' '
	printf "{\"job_arn\":\"%s/odd000000001\"}\n" "$ARN" >in2 &&
	test_must_fail bb-wait -v --interval 0.1 --timeout 1 in2 >out2 2>err2 &&
	no_raw_controls err2 &&
	test_grep "job .odd000000001.: \\\\x1b\\[2JOdd\\\\x07" err2
'

test_expect_success 'bb-submit: an unknown invocation_type from the input is shown escaped' '
	printf "{\"shard\":\"a\",\"s3_uri\":\"s3://b/a.jsonl\",\"model\":\"m\",\"invocation_type\":\"\\\\u001b[2Jx\\\\u0007\"}\n" >in3 &&
	test_expect_code 1 bb-submit -n -r arn:aws:iam::123456789012:role/R -o s3://b/o/ \
		in3 >out3 2>err3 &&
	no_raw_controls err3 &&
	test_grep "unknown invocation_type .\\\\x1b\\[2Jx\\\\x07." err3
'

test_expect_success 'bb-submit -vv: a model id with escapes, while it waits at --max-inflight' '
	printf "{\"shard\":\"a\",\"s3_uri\":\"s3://b/a.jsonl\",\"model\":\"m\\\\u001b[2Jx\\\\u0007\"}\n" >in4 &&
	test_expect_code 1 bb-submit -vv --max-inflight 1 --max-wait 0.3 --retry-interval 0.1 \
		-r arn:aws:iam::123456789012:role/R -o s3://b/o/ in4 >out4 2>err4 &&
	no_raw_controls err4 &&
	test_grep "1 jobs in flight for model .m\\\\x1b\[2Jx\\\\x07." err4 &&
	test_grep "1 jobs in flight for .m\\\\x1b\[2Jx\\\\x07. (--max-inflight 1): waiting" err4 &&
	test_grep "error: .*still 1 jobs in flight for model .m\\\\x1b\[2Jx\\\\x07." err4
'

test_expect_success 'bb-submit: a model id with escapes, while the job quota is full' '
	printf "{\"shard\":\"a\",\"s3_uri\":\"s3://b/a.jsonl\",\"model\":\"q\\\\u001b[2Jq\"}\n" >in5 &&
	test_expect_code 1 bb-submit --max-wait 0.3 --retry-interval 0.1 \
		-r arn:aws:iam::123456789012:role/R -o s3://b/o/ in5 >out5 2>err5 &&
	no_raw_controls err5 &&
	test_grep "the job quota of model .q\\\\x1b\[2Jq. is full" err5 &&
	test_grep "error: .*gave up after waiting" err5
'

test_done
