#!/bin/sh
# emu-auth.sh - bb-emu's authentication with the real SDK: wrong secret,
# unknown key, clock skew, presigned URLs, session tokens from a keys file,
# Bedrock SigV4 (double-encoded paths) and bearer API keys, and that no
# secret reaches the log.
. "$top_srcdir/tests/lib.sh"

test_require emu boto3 curl

cat >"$TEST_DIR/keys" <<KEYS
# test keys
$EMU_ACCESS_KEY $EMU_SECRET_KEY
AKIDSESSION000000000 session-secret the-session-token
bearer bedrock-api-key-test-token
KEYS
emu_start -v --keys-file "$TEST_DIR/keys" || exit 1

test_expect_success 'setup: a bucket' '"$PY" "$FIX/emu_boto3.py" bucket'

for check in wrong_secret skew presigned session_token bedrock_auth bearer; do
	test_expect_success "auth: $check" "\"$PY\" \"$FIX/emu_boto3.py\" $check"
done

test_expect_success 'curl --aws-sigv4 is accepted too' '
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" -u "$EMU_ACCESS_KEY:$EMU_SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		"$EMU_URL/conf-bucket?list-type=2" >list &&
	test_grep "<ListBucketResult" list
'

test_expect_success 'no secret, token or signature in the log' '
	test -s "$TEST_DIR/emu.err" &&
	test_grep "s3 GET /conf-bucket" "$TEST_DIR/emu.err" &&
	! grep -e "$EMU_SECRET_KEY" -e session-secret -e the-session-token \
		-e bedrock-api-key -e Signature "$TEST_DIR/emu.err"
'

test_done
