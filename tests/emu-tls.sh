#!/bin/sh
# emu-tls.sh - bb-emu over https (--tls-cert/--tls-key) with a throwaway CA
# made here by the openssl CLI: curl, the AWS CLI (single and multipart
# cp, head-object), boto3 (verify=CA), raw signed requests, bb-upload,
# bb-shard | bb-upload | bb-submit | bb-wait, all verifying the server's
# certificate against the CA (AWS_CA_BUNDLE / --ca-bundle / --cacert);
# without the CA each client fails and nothing is stored; plain http on the
# TLS port is refused and bb-emu keeps serving; the -v log says how each
# body was protected (payload=..., checksum=...); bad certificate and key
# files stop bb-emu with exit 2, a message and no ready line.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"   # test_expect_todo, MODEL, ROLE

FIX=$top_srcdir/tests/fixtures
PY=${PYTHON3:-python3}

emu_available || test_skip_all "bb-emu was not built (libmicrohttpd missing)"
command -v openssl >/dev/null 2>&1 || test_skip_all "no openssl CLI (to make a test CA)"
command -v curl >/dev/null 2>&1 || test_skip_all "no curl"

# ---- a throwaway CA and a server certificate for 127.0.0.1 / localhost ----
cd "$TEST_DIR" || exit 1
mkcerts() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj "/CN=bb-emu test CA" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout key.pem -out srv.csr -subj "/CN=localhost" &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		"basicConstraints=CA:FALSE" "keyUsage=digitalSignature" \
		"extendedKeyUsage=serverAuth" >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 4242 \
		-days 2 -extfile srv.ext -out cert.pem &&
	chmod 600 key.pem ca.key &&
	# another CA's certificate, and an RSA key that is nobody's
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout other.key -out other.pem -days 2 -subj "/CN=other" &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
}
mkcerts >certs.log 2>&1 || test_skip_all "openssl could not make a test CA: $(tail -n 1 certs.log)"
CA=$TEST_DIR/ca.pem
# the key file is private (0600): bb-emu reads it once at start-up
emu_start -v --tls-cert "$TEST_DIR/cert.pem" --tls-key "$TEST_DIR/key.pem" --bucket tls \
	--time-scale 400 --min-records 1 --max-concurrent 100 || exit 1
export CA

s3() {
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# number of objects in the emulator's store (each has one .meta)
nobjects() { find "$EMU_DATA/s3" -name '*.meta' | wc -l; }
HAVE_AWS=; command -v aws >/dev/null 2>&1 && HAVE_AWS=1
HAVE_BOTO=; "$PY" -c 'import boto3' 2>/dev/null && HAVE_BOTO=1

head -c 3000000 /dev/urandom >small.bin
head -c 11534336 /dev/urandom >big.bin     # 11 MiB: multipart for the AWS CLI (8 MiB)

test_expect_success 'the ready line says https://127.0.0.1:PORT' '
	case $EMU_URL in https://127.0.0.1:[0-9]*) ;; *) echo "$EMU_URL"; false ;; esac
'

test_expect_success 'curl --cacert: PUT and GET round trip over https' '
	s3 --cacert "$CA" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T small.bin \
		"$EMU_URL/tls/curl/small.bin" -o put.out &&
	s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/tls/curl/small.bin" -o got &&
	cmp small.bin got &&
	s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" -r 100-199 \
		"$EMU_URL/tls/curl/small.bin" -o range &&
	test "$(wc -c <range)" -eq 100 &&
	curl -sS -f --cacert "$CA" "$EMU_URL/_emu/health" >health &&
	test_grep -q "\"status\":\"ok\"" health
'

test_expect_success 'curl --cacert: localhost is in the certificate too' '
	port=${EMU_URL##*:} &&
	curl -sS -f --cacert "$CA" "https://localhost:$port/_emu/health" >health
'

test_expect_success 'curl without the CA fails verification; nothing stored' '
	n0=$(nobjects) &&
	test_expect_code 60 s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T small.bin \
		"$EMU_URL/tls/curl/noca.bin" 2>err &&
	test_grep -qi "certificate" err &&
	test_expect_code 60 curl -sS --cacert other.pem "$EMU_URL/_emu/health" 2>err &&
	test "$(nobjects)" -eq "$n0"
'

test_expect_success 'plain http on the TLS port is refused; bb-emu keeps serving' '
	plain=http://${EMU_URL#https://} &&
	test_must_fail curl -sS -m 10 "$plain/_emu/health" 2>err &&
	test_must_fail curl -sS -m 10 -X PUT --data-binary @small.bin "$plain/tls/plain.bin" 2>err &&
	printf "garbage\r\n\r\n" | test_must_fail curl -sS -m 10 --data-binary @- "$plain/x" 2>err &&
	kill -0 "$EMU_PID" &&
	curl -sS -f --cacert "$CA" "$EMU_URL/_emu/health" >health &&
	test_grep -q "\"status\":\"ok\"" health
'

test_expect_success 'faults over https: control endpoint, throttling, a dropped connection' '
	CURL_CA_BUNDLE=$CA emu_faults "{\"throttle_rate\": 1}" >set &&
	test_grep -q "\"throttle_rate\":1" set &&
	curl -sS --cacert "$CA" --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $EMPTY" \
		-o /dev/null -w "%{http_code}\n" "$EMU_URL/tls/curl/small.bin" >code &&
	test "$(cat code)" = 503 &&
	CURL_CA_BUNDLE=$CA emu_faults "{\"reset\": true, \"drop_rate\": 1}" >set &&
	test_must_fail s3 --cacert "$CA" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		-T small.bin "$EMU_URL/tls/curl/dropped.bin" 2>err
	rc=$?
	CURL_CA_BUNDLE=$CA emu_faults "{\"reset\": true}" >set &&
	test $rc -eq 0 &&
	test_grep -q "s3 PUT /tls/curl/dropped.bin dropped" "$TEST_DIR/emu.err" &&
	s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/tls/curl/small.bin" -o got &&
	cmp small.bin got
'

if test -n "$HAVE_AWS"; then
	test_expect_success 'aws --ca-bundle s3 cp: single PUT and multipart, back equal' '
		aws --ca-bundle "$CA" s3 cp small.bin s3://tls/cli/small.bin >cp.out &&
		aws --ca-bundle "$CA" s3 cp big.bin s3://tls/cli/big.bin >cp.out &&
		aws --ca-bundle "$CA" s3 cp s3://tls/cli/small.bin small.back >cp.out &&
		aws --ca-bundle "$CA" s3 cp s3://tls/cli/big.bin big.back >cp.out &&
		cmp small.bin small.back && cmp big.bin big.back &&
		aws --ca-bundle "$CA" s3api head-object --bucket tls --key cli/big.bin >head.json &&
		test_grep -q "\"ContentLength\": 11534336" head.json &&
		test_grep -q "\"ETag\": \"\\\\\"[0-9a-f]*-[0-9]*\\\\\"\"" head.json
	'
	test_expect_success 'AWS_CA_BUNDLE works for the AWS CLI; without a CA it fails' '
		AWS_CA_BUNDLE=$CA aws s3api head-object --bucket tls --key cli/small.bin >head.json &&
		test_grep -q "\"ContentLength\": 3000000" head.json &&
		AWS_MAX_ATTEMPTS=1 test_expect_code 255 aws s3api head-object --bucket tls --key cli/small.bin >out 2>err &&
		test_grep -qi "certificate verify failed" err
	'
else
	test_skip 'aws --ca-bundle s3 cp' 'the AWS CLI is not installed'
	test_skip 'AWS_CA_BUNDLE for the AWS CLI' 'the AWS CLI is not installed'
fi

if test -n "$HAVE_BOTO"; then
	test_expect_success 'boto3 with verify=CA: put, get, multipart; verify=True fails' '
		"$PY" - "$CA" <<-\EOF
		import sys, boto3, botocore.config, botocore.exceptions
		from boto3.s3.transfer import TransferConfig
		s3 = boto3.client("s3", verify=sys.argv[1])
		s3.put_object(Bucket="tls", Key="boto/a", Body=b"hello tls")
		assert s3.get_object(Bucket="tls", Key="boto/a")["Body"].read() == b"hello tls"
		data = open("big.bin", "rb").read()
		s3.upload_file("big.bin", "tls", "boto/big",
		               Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
		assert s3.head_object(Bucket="tls", Key="boto/big")["ContentLength"] == len(data)
		assert s3.get_object(Bucket="tls", Key="boto/big")["Body"].read() == data
		bad = boto3.client("s3", verify=True, config=botocore.config.Config(
		    retries={"mode": "standard", "total_max_attempts": 1}))
		try:
		    bad.head_object(Bucket="tls", Key="boto/a")
		except botocore.exceptions.SSLError:
		    pass
		else:
		    raise SystemExit("verify=True accepted the test CA")
		EOF
	'
	test_expect_success 'boto3 conformance checks over https (AWS_CA_BUNDLE)' '
		AWS_CA_BUNDLE=$CA "$PY" "$FIX/emu_boto3.py" put_get checksums multipart
	'
	test_expect_success 'raw signed requests over https: aws-chunked forms, one-digest checks' '
		AWS_CA_BUNDLE=$CA "$PY" "$FIX/emu_raw.py" chunked digest
	'
else
	test_skip 'boto3 with verify=CA' 'python3 boto3 is not installed'
	test_skip 'boto3 conformance checks over https' 'python3 boto3 is not installed'
	test_skip 'raw signed requests over https' 'python3 botocore is not installed'
fi

test_expect_success 'bb-upload with AWS_CA_BUNDLE: single and multipart, bytes read back equal' '
	AWS_CA_BUNDLE=$CA bb-upload -t s3://tls/up/ --part-size 5MiB --multipart-threshold 6MiB \
		small.bin big.bin >up.out 2>up.err &&
	test "$(grep -c "\"etag\"" up.out)" -eq 2 &&
	s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/tls/up/small.bin" -o back1 &&
	s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/tls/up/big.bin" -o back2 &&
	cmp small.bin back1 && cmp big.bin back2
'

test_expect_success 'bb-upload over https: UNSIGNED-PAYLOAD with a CRC32C checksum (the -v log)' '
	AWS_CA_BUNDLE=$CA bb-upload -t s3://tls/up2/ --part-size 5MiB --multipart-threshold 6MiB \
		small.bin big.bin >up.out 2>up.err &&
	test_grep "s3 PUT /tls/up2/" "$TEST_DIR/emu.err" >put.log &&
	test "$(wc -l <put.log)" -eq 4 &&
	test "$(grep -c " 200 in=[0-9]* [0-9.]*ms payload=unsigned checksum=crc32c\$" put.log)" -eq 4 &&
	AWS_CA_BUNDLE=$CA bb-upload -t s3://tls/up2/ --part-size 5MiB --multipart-threshold 6MiB \
		small.bin big.bin >up2.out 2>up2.err &&
	test "$(grep -c "\"skipped\":true" up2.out)" -eq 2 &&
	test "$(grep -c "s3 PUT /tls/up2/" "$TEST_DIR/emu.err")" -eq 4
'

test_expect_success 'bb-upload over https --checksum-algorithm sha256: UNSIGNED-PAYLOAD, sha256' '
	AWS_CA_BUNDLE=$CA bb-upload -t s3://tls/up3/ --checksum-algorithm sha256 --part-size 5MiB \
		--multipart-threshold 6MiB small.bin big.bin >up.out 2>up.err &&
	test_grep "s3 PUT /tls/up3/" "$TEST_DIR/emu.err" >put.log &&
	test "$(wc -l <put.log)" -eq 4 &&
	test "$(grep -c " 200 in=[0-9]* [0-9.]*ms payload=unsigned checksum=sha256\$" put.log)" -eq 4
'

test_expect_success 'bb-upload without the CA: fails at once (one try), names the certificate problem, stores nothing' '
	n0=$(nobjects) &&
	test_must_fail env -u AWS_CA_BUNDLE bb-upload -t s3://tls/noca/ --trace trn small.bin \
		>out 2>err &&
	test_grep -qi "certificate" err && ! test -s out &&
	test "$(grep -c "= attempt [0-9]*: " trn)" -eq 1 &&
	test_must_fail env -u AWS_CA_BUNDLE bb-upload -t s3://tls/noca/ --force --trace trf small.bin \
		>out 2>err &&
	test_grep -qi "certificate" err &&
	! test -s out &&
	test "$(grep -c "= attempt [0-9]*: PUT " trf)" -eq 1 &&
	test "$(nobjects)" -eq "$n0" &&
	test_must_fail s3 --cacert "$CA" -H "x-amz-content-sha256: $EMPTY" \
		"$EMU_URL/tls/noca/small.bin" -o /dev/null 2>/dev/null
'

test_expect_success 'bb-shard | bb-upload | bb-submit | bb-wait over https with the CA' '
	for i in 1 2 3; do printf "{\"q\":\"question %d\"}\n" $i; done >rows.jsonl &&
	mkdir -p shards &&
	bb-shard -m "$MODEL" -t "Answer: {q}" -o shards --min-records 1 rows.jsonl >shard.lines &&
	AWS_CA_BUNDLE=$CA bb-upload -t s3://tls/run/input/ <shard.lines >up.lines &&
	AWS_CA_BUNDLE=$CA bb-submit --role-arn "$ROLE" --output s3://tls/run/output/ \
		<up.lines >sub.lines &&
	test_grep -q "\"job_arn\":\"arn:aws:bedrock:" sub.lines &&
	AWS_CA_BUNDLE=$CA timeout 60 bb-wait --interval 0.1 <sub.lines >done.lines &&
	test_grep -q "\"status\":\"Completed\"" done.lines
'

# A certificate that does not verify will not verify on the next try:
# like bb-upload, bb-submit and bb-wait stop (exit 1 or 2) and say why
# (they used to retry it for ever, hence the timeout).
test_expect_success \
	'bb-submit without the CA: stops with the certificate problem, submits nothing' '
	timeout 5 bb-submit --role-arn "$ROLE" --output s3://tls/run2/output/ \
		<up.lines >out 2>err
	rc=$? &&
	{ test $rc -eq 1 || test $rc -eq 2; } &&
	test_grep -qi "certificate" err &&
	! grep -q job_arn out
'
test_expect_success \
	'bb-wait without the CA: stops with the certificate problem' '
	timeout 5 bb-wait --interval 0.1 <sub.lines >out 2>err
	rc=$? &&
	{ test $rc -eq 1 || test $rc -eq 2; } &&
	test_grep -qi "certificate" err
'

test_expect_success 'the -v log: payload and checksum of S3 bodies, none on Bedrock lines' '
	test_grep -q "s3 PUT /tls/curl/small.bin 200 in=3000000 [0-9.]*ms payload=unsigned\$" \
		"$TEST_DIR/emu.err" &&
	if test -n "$HAVE_BOTO"; then
		test_grep -q "payload=signed checksum=sha256\$" "$TEST_DIR/emu.err" &&
		test_grep -q "payload=streaming-signed checksum=sha256\$" "$TEST_DIR/emu.err" &&
		test_grep -q "payload=streaming-unsigned checksum=crc32\$" "$TEST_DIR/emu.err" &&
		test_grep -q "payload=streaming-signed\$" "$TEST_DIR/emu.err"
	fi &&
	! grep "bedrock .*payload=" "$TEST_DIR/emu.err" &&
	! grep -i -e Signature= -e "$AWS_SECRET_ACCESS_KEY" -e "BEGIN" "$TEST_DIR/emu.err"
'

# ---- bad certificate and key files: exit 2, a message, no ready line ----
# bad_start NAME ARGS...: bb-emu must exit 2 with an error and no ready line
bad_start() {
	_n=$1
	shift
	test_expect_code 2 timeout 20 "$BB_EMU" --listen 127.0.0.1:0 --data-dir "$TEST_DIR/bad-data" \
		"$@" >"bad.$_n.out" 2>"bad.$_n.err" &&
	! test -s "bad.$_n.out" &&
	! test -e "$TEST_DIR/bad-data" &&
	test_grep -q "^bb-emu: " "bad.$_n.err"
}

test_expect_success 'a missing certificate or key file: exit 2, a message, no ready line' '
	bad_start nocert --tls-cert nothere.pem --tls-key key.pem &&
	test_grep -q "nothere.pem.*No such file" bad.nocert.err &&
	bad_start nokey --tls-cert cert.pem --tls-key nothere.key &&
	test_grep -q "nothere.key.*No such file" bad.nokey.err &&
	bad_start dir --tls-cert . --tls-key key.pem &&
	: >empty.pem && bad_start empty --tls-cert empty.pem --tls-key key.pem
'

test_expect_success 'a garbage certificate or key: exit 2, a message naming the file' '
	printf "not a certificate\n" >garbage.pem &&
	bad_start garbage --tls-cert garbage.pem --tls-key key.pem &&
	test_grep -q "garbage.pem.*no PEM certificate" bad.garbage.err &&
	bad_start keyascert --tls-cert key.pem --tls-key key.pem &&
	bad_start certaskey --tls-cert cert.pem --tls-key cert.pem &&
	test_grep -q "no unencrypted PEM private key" bad.certaskey.err &&
	head -c 300 cert.pem >cut.pem &&
	bad_start cut --tls-cert cut.pem --tls-key key.pem
'

test_expect_success 'a key that is not the certificate'"'"'s, an encrypted key: exit 2' '
	bad_start mismatch --tls-cert cert.pem --tls-key rsa.key &&
	test_grep -q "does not belong to the certificate" bad.mismatch.err &&
	bad_start mismatch2 --tls-cert other.pem --tls-key key.pem &&
	openssl pkey -in key.pem -aes256 -passout pass:secret -out enc.key 2>/dev/null &&
	bad_start encrypted --tls-cert cert.pem --tls-key enc.key </dev/null &&
	test_grep -q "enc.key.*no unencrypted PEM private key" bad.encrypted.err
'

test_expect_success '--tls-cert without --tls-key and the reverse: usage error' '
	bad_start onlycert --tls-cert cert.pem &&
	test_grep -q "go together" bad.onlycert.err &&
	bad_start onlykey --tls-key key.pem &&
	test_grep -q "go together" bad.onlykey.err
'

# A private key file (0600) of another user: as root, run bb-emu as the
# user nobody (setpriv), who cannot read root's key; otherwise mode 000.
AS=
if test "$(id -u)" -eq 0 && command -v setpriv >/dev/null 2>&1; then
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if test "$(id -u)" -ne 0 || test -n "$AS"; then
	test_expect_success 'a key file bb-emu cannot read: exit 2, Permission denied, no ready line' '
		mkdir -p perm && cp cert.pem key.pem perm/ &&
		chmod 644 perm/cert.pem && chmod 600 perm/key.pem && chmod 755 perm &&
		chmod 711 "$TEST_DIR" &&
		if test -z "$AS"; then chmod 000 perm/key.pem; fi &&
		test_expect_code 2 $AS "$BB_EMU" --listen 127.0.0.1:0 --data-dir "$TEST_DIR/perm/data" \
			--tls-cert "$TEST_DIR/perm/cert.pem" --tls-key "$TEST_DIR/perm/key.pem" \
			>perm.out 2>perm.err &&
		! test -s perm.out &&
		test_grep -q "^bb-emu: error: --tls-key: cannot open .*key.pem.*Permission denied" perm.err &&
		! test -e perm/data
	'
else
	test_skip 'a key file bb-emu cannot read' 'running as root without setpriv'
fi

test_expect_success 'bb-emu --help names the TLS options' '
	"$BB_EMU" --help >help &&
	test_grep -q -- "--tls-cert FILE" help &&
	test_grep -q -- "--tls-key FILE" help
'

test_expect_success 'the TLS emulator is still up' '
	curl -sS -f --cacert "$CA" "$EMU_URL/_emu/health" >health
'
emu_stop
test_expect_success 'and shuts down cleanly (exit 0, no sanitizer report)' '
	test "$EMU_RC" -eq 0 &&
	! grep -i "sanitizer" "$TEST_DIR/emu.err"
'

# moto over TLS keeps no CRC32C of what it is sent and echoes none: the
# first part went as UNSIGNED-PAYLOAD, so bb-upload cannot rely on the
# checksum and sends it again, and every later part, with a signed payload
# SHA-256 (hashed again: only the CRC was computed).
MPORT=$(free_port)
if "$PY" -c 'import moto.server' 2>/dev/null && test -n "$HAVE_AWS"; then
	"$PY" -m moto.server -H 127.0.0.1 -p "$MPORT" -c "$TEST_DIR/cert.pem" \
		-k "$TEST_DIR/key.pem" >moto.log 2>&1 &
	MOTO_PID=$!
	test_at_exit "kill $MOTO_PID"
	i=0
	until curl -s -f -m 1 --cacert "$CA" -o /dev/null "https://127.0.0.1:$MPORT/moto-api/data.json"; do
		i=$((i + 1)); test $i -lt 100 || break; sleep 0.1
	done
	MOTO_URL=https://127.0.0.1:$MPORT
	test_expect_success 'moto over TLS, no checksum echoed: parts sent again signed, bytes equal' '
		export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing &&
		AWS_CA_BUNDLE=$CA aws --endpoint-url "$MOTO_URL" s3 mb s3://motls >/dev/null &&
		AWS_CA_BUNDLE=$CA AWS_ENDPOINT_URL=$MOTO_URL bb-upload -t s3://motls/up/ \
			--part-size 5MiB --multipart-threshold 6MiB --trace mt small.bin big.bin \
			>mo.out 2>mo.err &&
		test "$(grep -c "\"uploaded_bytes\"" mo.out)" -eq 2 &&
		test "$(grep -c "> X-Amz-Content-SHA256: UNSIGNED-PAYLOAD" mt)" -ge 1 &&
		sed -n "s/^\([0-9]*\) > PUT .*/\1/p" mt >puts &&
		while read -r n; do
			grep -q "^$n > x-amz-checksum-crc32c: " mt || return 1
		done <puts &&
		awk "\$2 == \">\" && \$3 == \"PUT\" { url[\$1] = \$4 }
			/> X-Amz-Content-SHA256: [0-9a-f]+/ { signed[\$1] = 1 }
			END { for (n in url) { all[url[n]] = 1; if (signed[n]) ok[url[n]] = 1 }
				for (u in all) { total++; if (!ok[u]) { print \"not signed: \" u; bad++ } }
				print total; exit bad > 0 }" mt >urls &&
		test "$(tail -n 1 urls)" -eq 4 &&
		for f in small.bin big.bin; do
			AWS_CA_BUNDLE=$CA aws --endpoint-url "$MOTO_URL" s3 cp --only-show-errors \
				"s3://motls/up/$f" got.$f && cmp "$f" "got.$f" || return 1
		done
	'
else
	test_skip 'moto over TLS, no checksum echoed' 'moto or the AWS CLI is not installed'
fi

test_done
