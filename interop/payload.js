// payload.js generates the deterministic test payloads shared by every
// peer of the interop tests: the browser page, ws-client.js, ws-server.js,
// and the Go tests (payload in interop_test.go computes the same bytes).
// A receiver checks a message against payload(text, its length), so each
// side verifies content without being told what was sent.
//
// Binary payloads are xorshift32 bytes (incompressible). Text payloads are
// valid UTF-8 phrases with 1- to 4-byte code points, so fragment boundaries
// and read buffers cut code points; they compress, as text does.
//
// Loaded with require() in Node; in a browser it defines window.payload.
(function (root) {
  'use strict';

  // The phrases text payloads are made of: ASCII and 2-, 3- and 4-byte
  // UTF-8 code points. Whole phrases keep the text compressible at the
  // speed of real text (single code points at random make zlib's lazy
  // matcher crawl: 16 MiB would take seconds).
  const PHRASES = [
    'The quick brown fox jumps over the lazy dog. ',
    'A WebSocket frame carries a FIN bit, an opcode and a masked payload. ',
    'héllo wörld, naïve café, ünïcödé façade. ',
    'жизнь прекрасна, привет из Москвы! ',
    'Ωμέγα και άλφα, καλημέρα κόσμε. ',
    '日本語のテキストも送ります。 ',
    '✓ done → next ⇒ €100 ± 5 ',
    '😀 emoji 🚀🚀 rockets 🎉 a😀b ',
    'ping, pong and close are control frames (RFC 6455, section 5.5).\n',
    'permessage-deflate compresses data frames (RFC 7692). ',
    '{"id": 12345, "name": "Zoë", "tags": ["α", "β", "γ"]}\n',
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ',
    'Grüße aus Köln; ¿Qué tal? Ça va très bien. ',
    'ℕ ⊂ ℤ ⊂ ℚ ⊂ ℝ ⊂ ℂ; ∀x ∃y: x < y ',
    '0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n',
    '𝄞 music, 𐍈 gothic, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 fraktur. ',
  ].map((w) => Array.from(new TextEncoder().encode(w)));

  const FILL = [0x2e]; // '.'

  function seed(text, n) {
    const s = (Math.imul(n, 2654435761) ^ (text ? 0x9e3779b9 : 0x85ebca6b)) >>> 0;
    return s === 0 ? 1 : s;
  }

  // bytes returns the n-byte payload of a text (true) or binary message.
  function bytes(text, n) {
    const out = new Uint8Array(n);
    let x = seed(text, n);
    let i = 0;
    while (i < n) {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      if (!text) {
        out[i++] = x & 0xff;
        continue;
      }
      let p = PHRASES[x % PHRASES.length];
      if (p.length > n - i) {
        p = FILL;
      }
      for (let k = 0; k < p.length; k++) {
        out[i++] = p[k];
      }
    }
    return out;
  }

  // string returns the text payload of n UTF-8 bytes as a string.
  function string(n) {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes(true, n));
  }

  // equal compares two byte arrays (Uint8Array, Buffer or ArrayBuffer).
  function equal(a, b) {
    const x = a instanceof ArrayBuffer ? new Uint8Array(a) : a;
    const y = b instanceof ArrayBuffer ? new Uint8Array(b) : b;
    if (x.length !== y.length) {
      return false;
    }
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) {
        return false;
      }
    }
    return true;
  }

  // describe says how got differs from the payload it should be.
  function describe(got, text, n) {
    const x = got instanceof ArrayBuffer ? new Uint8Array(got) : got;
    if (x.length !== n) {
      return 'length ' + x.length + ', want ' + n;
    }
    const want = bytes(text, n);
    for (let i = 0; i < n; i++) {
      if (x[i] !== want[i]) {
        return 'first difference at byte ' + i + ': got 0x' + x[i].toString(16) +
          ', want 0x' + want[i].toString(16);
      }
    }
    return 'equal';
  }

  // cuts returns k-1 increasing cut points splitting n bytes into k pieces
  // of uneven sizes (the first piece may be empty only when n < k).
  function cuts(n, k) {
    const out = [];
    let prev = 0;
    for (let j = 1; j < k; j++) {
      // Uneven pieces: j^2 weights, so the last pieces are the largest.
      let c = Math.floor((n * j * j) / (k * k));
      if (c < prev) {
        c = prev;
      }
      out.push(c);
      prev = c;
    }
    return out;
  }

  const api = { bytes, string, equal, describe, cuts };
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.payload = api;
  }
})(typeof self !== 'undefined' ? self : this);
