# Regenerates zlib_vectors.json (run from this directory): python3 gen_zlib_vectors.py
import zlib, json, base64, random
rng = random.Random(7692)
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
msgs = []
for i in range(7):
    if i == 3:
        msgs.append("")
        continue
    recs = []
    for j in range(rng.randint(3, 25)):
        recs.append('{"seq":%d,"user":"%s%d","text":"%s"}' % (rng.randint(0, 999), rng.choice(words), rng.randint(0, 9), " ".join(rng.choice(words) for _ in range(rng.randint(2, 9)))))
    msgs.append("[" + ",".join(recs) + "]")
sets = []
for wbits in (9, 11, 15):
    for level in (1, 9):
        for takeover in (False, True):
            comp = []
            c = None
            for m in msgs:
                if c is None or not takeover:
                    c = zlib.compressobj(level, zlib.DEFLATED, -wbits, 8)
                out = c.compress(m.encode()) + c.flush(zlib.Z_SYNC_FLUSH)
                assert out.endswith(b"\x00\x00\xff\xff")
                comp.append(base64.b64encode(out[:-4]).decode())
            sets.append({"windowBits": wbits, "level": level, "takeover": takeover, "compressed": comp})
json.dump({"generator": "Python zlib " + zlib.ZLIB_RUNTIME_VERSION + ", raw deflate, Z_SYNC_FLUSH, memLevel 8",
           "messages": msgs, "sets": sets}, open("zlib_vectors.json", "w"), indent=1)
