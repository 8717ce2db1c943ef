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
