# submitwait-lib.sh - what the tests of bb-submit and bb-wait against bb-emu
# (tests/submit.sh, tests/wait.sh) share; sourced after tests/lib.sh.
#
#   jobs_require PROG...    skip the script unless bb-emu, tests/aws-tool and
#                           each PROG were built
#   MODEL, ROLE             the model and the role of the jobs; BB_ROLE_ARN
#                           is ROLE (exported, with MODEL and AWS_TOOL)
#   mkbucket                make the bucket s3://bkt (once bb-emu runs)
#   mkshards NAME N         N shard files of 5 records each uploaded under
#                           s3://bkt/NAME/, and their lines as bb-shard |
#                           bb-upload would write them in NAME.jsonl
AWS_TOOL=$top_builddir/tests/aws-tool
MODEL=anthropic.claude-3-haiku-20240307-v1:0
ROLE=arn:aws:iam::123456789012:role/BatchRole
BB_ROLE_ARN=$ROLE
export BB_ROLE_ARN MODEL AWS_TOOL

jobs_require() {
	for _p; do
		command -v "$_p" >/dev/null 2>&1 || test_skip_all "$_p is not built"
	done
	emu_available || test_skip_all "bb-emu is not built (needs libmicrohttpd)"
	test -x "$AWS_TOOL" || test_skip_all "tests/aws-tool is not built"
}

mkbucket() {
	"$AWS_TOOL" put-mem s3://bkt/ x >/dev/null 2>&1
}

mkshards() {
	_i=0
	: >"$1.jsonl"
	while test $_i -lt "$2"; do
		_i=$((_i + 1))
		_f=$1-$_i.jsonl
		for _r in 1 2 3 4 5; do
			printf '{"recordId":"%s-%s-%s","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"q %s"}]}}\n' \
				"$1" "$_i" "$_r" "$_r"
		done >"$_f"
		_sum=$(sha256sum "$_f" | cut -d' ' -f1)
		_etag=$("$AWS_TOOL" put "s3://bkt/$1/$_f" "$_f") || return 1
		printf '{"shard":"%s","index":%d,"records":5,"sha256":"%s","model":"%s","s3_uri":"s3://bkt/%s/%s","etag":%s}\n' \
			"$_f" "$_i" "$_sum" "$MODEL" "$1" "$_f" "$(printf '%s' "$_etag" | sed 's/"/\\"/g; s/^/"/; s/$/"/')" \
			>>"$1.jsonl"
	done
}
