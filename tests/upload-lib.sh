# upload-lib.sh - helpers of the bb-upload tests (tests/upload*.sh),
# sourced after tests/lib.sh.
#
#   field NAME <LINES       the field NAME of each JSON line (Python's str:
#                           True, None, numbers and strings as they are)
#   trace_puts TRACE        the request numbers of the PUTs in a --trace
#                           file, one a line
#   ckcheck TRACE           every PUT of a --trace file carries a signed
#                           x-amz-checksum-sha256 and each body was checked
#                           by the store (see below); prints how
#   upload_emu_start        (at the top level) skip the script without
#                           bb-emu, curl or tests/aws-tool, else start
#                           bb-emu -v; then, against it:
#   s3 CURL-ARGS...         curl signed for S3 with the emulator's keys
#   mkbucket NAME           create a bucket
#   emu_uploads             multipart uploads in progress (its data dir)
#   get S3URI               the object's bytes on stdout (tests/aws-tool)
#   EMPTY                   the SHA-256 of nothing (an empty body's hash)

field() {
	"$PY" -c 'import json,sys
for l in sys.stdin: print(json.loads(l).get(sys.argv[1]))' "$1"
}

trace_puts() { sed -n 's/^\([0-9]*\) > PUT .*/\1/p' "$1"; }

# Every PUT carries a signed x-amz-checksum-sha256 and no Content-MD5; a
# hex payload hash, where one was signed, is the checksum's own digest.
# Each body was checked by the store: its echo of the checksum came back,
# or (a store that does not echo it may not check it) the same body went
# again with a signed payload SHA-256. Prints "echoed", "signed" or both:
# what the store needed.
ckcheck() {
	"$PY" - "$1" <<'EOF'
import base64, collections, re, sys
reqs = collections.defaultdict(dict)
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d+) > PUT ", line)
    if m:
        reqs[m[1]]["put"] = 1
    m = re.match(r"(\d+) ([<>]) ([^:]+): (.*)", line.rstrip("\r\n"))
    if m:
        reqs[m[1]].setdefault(m[2] + m[3].lower(), m[4])
checked, how = collections.defaultdict(bool), set()
for n, h in reqs.items():
    if "put" not in h:
        continue
    ck = h.get(">x-amz-checksum-sha256")
    assert ck, "request %s: no x-amz-checksum-sha256" % n
    assert "x-amz-checksum-sha256" in h.get(">authorization", ""), "request %s: not signed" % n
    assert "content-md5" not in " ".join(h), "request %s: Content-MD5" % n
    ph = h.get(">x-amz-content-sha256", "")
    if re.fullmatch("[0-9a-f]{64}", ph):
        assert base64.b64encode(bytes.fromhex(ph)).decode() == ck, \
            "request %s: payload hash and checksum differ" % n
    if h.get("<x-amz-checksum-sha256") == ck:
        checked[ck] = True
        how.add("echoed")
    elif re.fullmatch("[0-9a-f]{64}", ph):
        checked[ck] = True
        how.add("signed")
    else:
        checked[ck] |= False
assert checked and all(checked.values()), dict(checked)
print(" ".join(sorted(how)))
EOF
}

EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

upload_emu_start() {
	test_require emu curl
	TOOL=$top_builddir/tests/aws-tool
	test -x "$TOOL" || test_skip_all "tests/aws-tool was not built"
	emu_start -v || test_skip_all "bb-emu did not start"
}
s3() {
	curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"
}
mkbucket() {
	s3 -H "x-amz-content-sha256: $EMPTY" --data-binary '' -X PUT "$EMU_URL/$1" >/dev/null
}
emu_uploads() { find "$EMU_DATA/uploads" -mindepth 1 -maxdepth 1 | wc -l; }
get() { "$TOOL" -e "$EMU_URL" get "$1"; }
