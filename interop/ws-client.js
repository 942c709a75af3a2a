#!/usr/bin/env node
// ws-client.js is the Node side of TestNodeClient: Node's ws package as a
// client against our server.
//
//   node ws-client.js '<plan as JSON>'
//
// The plan (written by node_test.go) names the server's base URL, its echo
// endpoints, and the close codes and reasons. Every result is printed as
// one line of JSON, {"case": "node/...", "ok": bool, "detail": "..."};
// the process exits 0 once every case has run, whatever their results (the
// Go test judges them), and 2 on a usage error.
'use strict';

const WebSocket = require('ws');
const payload = require('./payload.js');

const EVENT_TIMEOUT_MS = 30000;

// report prints one result; ms, when given, is how long the case took.
function report(name, detail, ms) {
  process.stdout.write(JSON.stringify({ case: name, ok: detail === '', detail: detail, ms: ms || 0 }) + '\n');
}

// connect opens a ws client whose events are queued, so that a case reads
// them in order with next().
function connect(url, protocols, options) {
  const ws = new WebSocket(url, protocols, options);
  const queue = [];
  let waiter = null;
  const push = (ev) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(ev);
    } else {
      queue.push(ev);
    }
  };
  ws.on('open', () => push({ type: 'open' }));
  ws.on('message', (data, isBinary) => push({ type: 'message', data: data, isBinary: isBinary }));
  ws.on('ping', (data) => push({ type: 'ping', data: data }));
  ws.on('pong', (data) => push({ type: 'pong', data: data }));
  ws.on('error', (err) => push({ type: 'error', error: err }));
  ws.on('close', (code, reason) => push({ type: 'close', code: code, reason: reason.toString() }));
  ws.on('unexpected-response', (req, res) => push({ type: 'error', error: new Error('HTTP ' + res.statusCode) }));
  ws.next = () => new Promise((resolve, reject) => {
    if (queue.length > 0) {
      resolve(queue.shift());
      return;
    }
    const timer = setTimeout(() => {
      waiter = null;
      reject(new Error('no event within ' + EVENT_TIMEOUT_MS + ' ms'));
    }, EVENT_TIMEOUT_MS);
    waiter = (ev) => {
      clearTimeout(timer);
      resolve(ev);
    };
  });
  return ws;
}

function show(ev) {
  switch (ev.type) {
    case 'close':
      return 'close event (code ' + ev.code + ', reason "' + ev.reason + '")';
    case 'error':
      return 'error event (' + ev.error.message + ')';
    case 'message':
      return (ev.isBinary ? 'binary' : 'text') + ' message of ' + ev.data.length + ' bytes';
    default:
      return ev.type + ' event';
  }
}

async function expectOpen(ws) {
  const ev = await ws.next();
  return ev.type === 'open' ? '' : 'got ' + show(ev) + ', want open';
}

// expectClose waits for the close event; reason null means any reason.
async function expectClose(ws, code, reason) {
  let ev = await ws.next();
  while (ev.type === 'error') {
    ev = await ws.next();
  }
  if (ev.type !== 'close' || ev.code !== code || (reason !== null && ev.reason !== reason)) {
    return 'got ' + show(ev) + ', want close code ' + code + (reason !== null ? ' reason "' + reason + '"' : '');
  }
  return '';
}

const cache = new Map();

function want(text, n) {
  const key = (text ? 't' : 'b') + n;
  if (!cache.has(key)) {
    cache.set(key, Buffer.from(payload.bytes(text, n).buffer));
  }
  return cache.get(key);
}

// sendMessage sends the payload whole (text as a string, as applications
// do) or in fragments with ws's {fin: false}; text fragments are cut
// inside code points on purpose.
function sendMessage(ws, text, n, fragments) {
  const msg = want(text, n);
  if (fragments <= 1) {
    ws.send(text ? msg.toString('utf8') : msg, { binary: !text });
    return;
  }
  let prev = 0;
  const ends = payload.cuts(n, fragments).concat([n]);
  ends.forEach((end, i) => {
    ws.send(msg.subarray(prev, end), { binary: !text, fin: i === ends.length - 1 });
    prev = end;
  });
}

// echoOne sends one message and checks its echo. With compressed set, a
// text echo of 64 KiB or more must have come compressed: fewer bytes on
// the wire than 90% of the payload (ws._socket is the ws connection's
// net.Socket, an internal of ws 8).
async function echoOne(ws, text, n, fragments, compressed) {
  const before = ws._socket.bytesRead;
  sendMessage(ws, text, n, fragments);
  const ev = await ws.next();
  if (ev.type !== 'message') {
    return 'got ' + show(ev) + ', want the echo';
  }
  if (ev.isBinary === text) {
    return 'echo is ' + (ev.isBinary ? 'binary' : 'text') + ', want ' + (text ? 'text' : 'binary');
  }
  if (!ev.data.equals(want(text, n))) {
    return 'echo differs: ' + payload.describe(ev.data, text, n);
  }
  const wire = ws._socket.bytesRead - before;
  if (compressed && text && n >= 65536 && wire >= 0.9 * n) {
    return 'the echo took ' + wire + ' bytes on the wire for ' + n + ' bytes of text: not compressed';
  }
  return '';
}

async function runEcho(base, ep) {
  const prefix = 'node/' + ep.name;
  const ws = connect(base + ep.path, [], ep.peerOptions || {});
  let detail = await expectOpen(ws);
  if (detail === '') {
    const hasDeflate = /(^|[ ,])permessage-deflate\b/.test(ws.extensions);
    if (hasDeflate !== ep.deflate) {
      detail = 'extensions "' + ws.extensions + '", want permessage-deflate ' + (ep.deflate ? 'negotiated' : 'absent');
    }
  }
  report(prefix + '/open', detail);
  if (ws.readyState !== WebSocket.OPEN) {
    return;
  }
  for (const text of [true, false]) {
    for (const n of ep.sizes) {
      let d;
      const start = performance.now();
      try {
        d = await echoOne(ws, text, n, ep.fragments || 0, ep.deflate);
      } catch (e) {
        d = String(e);
      }
      report(prefix + '/' + (text ? 'text' : 'binary') + '/' + n, d, performance.now() - start);
      if (ws.readyState !== WebSocket.OPEN) {
        return;
      }
    }
  }
  ws.close(1000, 'done');
  report(prefix + '/close', await expectClose(ws, 1000, null));
}

// runPing pings the server and has the server ping us: ws answers pings by
// itself (autoPong); the server reports the pong it saw in a text message.
// Then the server pings between the two fragments of a message.
async function runPing(base, plan) {
  const ws = connect(base + plan.pingPath, [], { perMessageDeflate: false });
  const open = await expectOpen(ws);
  if (open !== '') {
    report('node/ping/client-ping', open);
    report('node/ping/server-ping', open);
    report('node/ping/mid-message', open);
    return;
  }
  ws.ping(plan.nodePing);
  let ev = await ws.next();
  report('node/ping/client-ping', ev.type === 'pong' && ev.data.toString() === plan.nodePing
    ? '' : 'got ' + show(ev) + (ev.data ? ' "' + ev.data.toString() + '"' : '') + ', want pong "' + plan.nodePing + '"');

  ws.send('ping-me');
  let detail = '';
  ev = await ws.next();
  if (ev.type !== 'ping' || ev.data.toString() !== plan.goPing) {
    detail = 'got ' + show(ev) + ', want ping "' + plan.goPing + '"';
  } else {
    ev = await ws.next();
    const wantText = 'pong-seen:' + plan.goPing;
    if (ev.type !== 'message' || ev.data.toString() !== wantText) {
      detail = 'got ' + show(ev) + ', want text "' + wantText + '"';
    }
  }
  report('node/ping/server-ping', detail);

  // The server sends a binary message in two fragments with a ping
  // between them; ws answers the ping before the message ends.
  ws.send('ping-mid');
  detail = '';
  ev = await ws.next();
  if (ev.type !== 'ping' || ev.data.toString() !== plan.midPing) {
    detail = 'got ' + show(ev) + ', want ping "' + plan.midPing + '" first';
  } else {
    ev = await ws.next();
    if (ev.type !== 'message' || !ev.isBinary) {
      detail = 'got ' + show(ev) + ', want the binary message';
    } else if (!ev.data.equals(want(false, plan.midSize))) {
      detail = 'message differs: ' + payload.describe(ev.data, false, plan.midSize);
    }
  }
  report('node/ping/mid-message', detail);
  ws.close(1000, 'done');
  await expectClose(ws, 1000, null);
}

// runSubprotocol offers x-unknown and chat.v1. With wantProtocol '' the
// server's 101 names no subprotocol, which ws treats as a failed handshake
// ("Server sent no subprotocol").
async function runSubprotocol(base, name, path, wantProtocol) {
  const ws = connect(base + path, ['x-unknown', 'chat.v1']);
  if (wantProtocol === '') {
    const ev = await ws.next();
    report(name, ev.type === 'error' && /no subprotocol/.test(ev.error.message)
      ? '' : 'got ' + show(ev) + ', want the error "Server sent no subprotocol"');
    return;
  }
  let detail = await expectOpen(ws);
  if (detail === '' && ws.protocol !== wantProtocol) {
    detail = 'protocol "' + ws.protocol + '", want "' + wantProtocol + '"';
  }
  if (ws.readyState === WebSocket.OPEN) {
    ws.close(1000, 'done');
    const d = await expectClose(ws, 1000, null);
    if (detail === '') {
      detail = d;
    }
  }
  report(name, detail);
}

async function runServerClose(base, plan) {
  const ws = connect(base + '/ws/server-close');
  let detail = await expectOpen(ws);
  if (detail === '') {
    detail = await expectClose(ws, plan.serverCode, plan.serverReason);
  }
  report('node/server-close', detail);
}

async function runClientClose(base, plan) {
  const ws = connect(base + '/ws/client-close');
  let detail = await expectOpen(ws);
  if (detail === '') {
    ws.close(plan.peerCode, plan.peerReason);
    // ws reports the code of the server's answering close frame, which
    // echoes ours.
    detail = await expectClose(ws, plan.peerCode, null);
  }
  report('node/client-close', detail);
}

async function guarded(name, f) {
  try {
    await f();
  } catch (e) {
    report(name, 'exception: ' + (e && e.stack ? e.stack : String(e)));
  }
}

async function main() {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node ws-client.js <plan JSON>\n');
    process.exit(2);
  }
  const plan = JSON.parse(process.argv[2]);
  const base = plan.base;
  for (const ep of plan.endpoints) {
    await guarded('node/' + ep.name + '/exception', () => runEcho(base, ep));
  }
  await guarded('node/ping/exception', () => runPing(base, plan));
  await guarded('node/subprotocol', () => runSubprotocol(base, 'node/subprotocol', '/ws/subprotocol', 'chat.v1'));
  await guarded('node/subprotocol-none', () => runSubprotocol(base, 'node/subprotocol-none', '/ws/subprotocol-none', ''));
  await guarded('node/server-close', () => runServerClose(base, plan));
  await guarded('node/client-close', () => runClientClose(base, plan));
}

main().then(() => process.exit(0), (e) => {
  report('node/error', 'main: ' + (e && e.stack ? e.stack : String(e)));
  process.exit(0);
});
