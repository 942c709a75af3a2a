// RFC 8441 peer on Node's own HTTP/2 (nghttp2), for h2test's interop tests.
//
//   node rfc8441.js server        cleartext HTTP/2 server advertising
//                                 SETTINGS_ENABLE_CONNECT_PROTOCOL; prints
//                                 "port N"; echoes WebSocket messages
//   node rfc8441.js client PORT   opens a WebSocket over HTTP/2 to
//                                 127.0.0.1:PORT, checks an echo of text and
//                                 binary messages and a close handshake
//
// Frames are written and parsed here (no WebSocket library speaks RFC 8441
// in Node); each line printed is "ok ..." or "FAIL ...".
'use strict';
const http2 = require('http2');
const crypto = require('crypto');

function encode(op, payload, mask) {
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.from([0x80 | op, (mask ? 0x80 : 0) | n]);
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | op; head[1] = (mask ? 0x80 : 0) | 126; head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | op; head[1] = (mask ? 0x80 : 0) | 127; head.writeBigUInt64BE(BigInt(n), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

// frames calls onFrame(op, fin, payload, masked) for each frame of stream.
function frames(stream, onFrame) {
  let buf = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0, op = buf[0] & 0x0f, masked = (buf[1] & 0x80) !== 0;
      let n = buf[1] & 0x7f, off = 2;
      if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
      else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
      const keyOff = off;
      if (masked) off += 4;
      if (buf.length < off + n) return;
      const payload = Buffer.from(buf.subarray(off, off + n));
      if (masked) for (let i = 0; i < n; i++) payload[i] ^= buf[keyOff + (i & 3)];
      buf = buf.subarray(off + n);
      onFrame(op, fin, payload, masked);
    }
  });
}

function server() {
  const srv = http2.createServer({ settings: { enableConnectProtocol: true } });
  srv.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket' ||
        headers['sec-websocket-version'] !== '13') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    const resp = { ':status': 200 };
    const offered = (headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
    if (offered.includes('chat')) resp['sec-websocket-protocol'] = 'chat';
    stream.respond(resp);
    let msg = [], msgOp = 0;
    frames(stream, (op, fin, payload, masked) => {
      if (!masked) { stream.write(encode(8, Buffer.from([0x03, 0xea]), false)); stream.end(); return; }
      if (op === 8) { stream.write(encode(8, payload, false)); stream.end(); return; }
      if (op === 9) { stream.write(encode(10, payload, false)); return; }
      if (op === 10) return;
      if (op !== 0) msgOp = op;
      msg.push(payload);
      if (fin) { stream.write(encode(msgOp, Buffer.concat(msg), false)); msg = []; }
    });
    stream.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1', () => console.log('port ' + srv.address().port));
}

function client(port) {
  const fail = (m) => { console.log('FAIL ' + m); process.exit(1); };
  setTimeout(() => fail('timeout'), 20000).unref();
  const session = http2.connect('http://127.0.0.1:' + port);
  session.on('error', (e) => fail('session: ' + e.message));
  session.on('remoteSettings', (settings) => {
    if (!settings.enableConnectProtocol) fail('server did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL');
    console.log('ok settings');
    const stream = session.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/echo',
      ':authority': '127.0.0.1:' + port, 'sec-websocket-version': '13',
      'sec-websocket-protocol': 'x, chat', 'origin': 'http://127.0.0.1:' + port,
    });
    stream.on('error', (e) => fail('stream: ' + e.message));
    // After the close handshake the server ends the stream (its FIN).
    stream.on('end', () => { console.log('ok stream ended'); session.close(); });
    stream.on('response', (h) => {
      if (h[':status'] !== 200) fail('status ' + h[':status']);
      if (h['sec-websocket-protocol'] !== 'chat') fail('subprotocol ' + h['sec-websocket-protocol']);
      console.log('ok response 200 chat');
      const big = crypto.randomBytes(70000);
      const want = [[1, Buffer.from('hello from node ✓')], [2, big], [2, Buffer.alloc(0)]];
      for (const [op, p] of want) stream.write(encode(op, p, true));
      stream.write(encode(9, Buffer.from('ping?'), true));
      let i = 0, pong = false, parts = [], msgOp = 0;
      frames(stream, (op, fin, payload, masked) => {
        if (masked) fail('server frame masked');
        const sendClose = () => {
          console.log('ok pong');
          const close = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')]);
          stream.write(encode(8, close, true));
        };
        if (op === 10) {
          if (payload.toString() !== 'ping?') fail('pong ' + payload.toString());
          pong = true;
          if (i === want.length) sendClose();
          return;
        }
        if (op === 8) {
          // The answer carries the code (RFC 6455 5.5.1: the reason is optional).
          if (payload.readUInt16BE(0) !== 4000) fail('close echo ' + payload.toString('hex'));
          console.log('ok close');
          stream.end();
          return;
        }
        if (op !== 0) msgOp = op;
        parts.push(payload);
        if (!fin) return; // our server streams long messages in fragments
        const msg = Buffer.concat(parts);
        parts = [];
        if (msgOp !== want[i][0] || !msg.equals(want[i][1])) fail('echo ' + i + ' op ' + msgOp + ' len ' + msg.length);
        console.log('ok echo ' + i + ' (' + msg.length + ' bytes)');
        if (++i === want.length && pong) sendClose(); // else when the pong comes
      });
    });
  });
}

if (process.argv[2] === 'server') server();
else if (process.argv[2] === 'client') client(process.argv[3]);
else { console.error('usage: node rfc8441.js server | client PORT'); process.exit(2); }
