// browser.js runs the browser's side of TestBrowser with the browser's own
// WebSocket. It fetches the plan from /config, runs every case in order,
// POSTs each result as JSON ({case, ok, detail}) to /report, and POSTs to
// /done at the end. Case names start with "page/".
'use strict';

const EVENT_TIMEOUT_MS = 30000;

async function post(path, body) {
  await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

// report sends one result; ms, when given, is how long the case took.
async function report(name, detail, ms) {
  await post('/report', { case: name, ok: detail === '', detail: detail, ms: ms || 0 });
}

// connect opens a WebSocket whose events are queued, so that a case reads
// them in order with next().
function connect(path, protocols) {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(scheme + location.host + path, protocols);
  ws.binaryType = 'arraybuffer';
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
  ws.onopen = () => push({ type: 'open' });
  ws.onmessage = (e) => push({ type: 'message', data: e.data });
  ws.onerror = () => push({ type: 'error' });
  ws.onclose = (e) => push({ type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean });
  // next resolves to the next event other than 'error' (an error event is
  // always followed by a close event, which says more).
  ws.next = () => new Promise((resolve, reject) => {
    const take = (ev) => {
      if (ev.type === 'error') {
        waiter = take;
        return;
      }
      clearTimeout(timer);
      resolve(ev);
    };
    const timer = setTimeout(() => {
      waiter = null;
      reject(new Error('no event within ' + EVENT_TIMEOUT_MS + ' ms'));
    }, EVENT_TIMEOUT_MS);
    while (queue.length > 0) {
      const ev = queue.shift();
      if (ev.type !== 'error') {
        clearTimeout(timer);
        resolve(ev);
        return;
      }
    }
    waiter = take;
  });
  return ws;
}

function show(ev) {
  if (ev.type === 'close') {
    return 'close event (code ' + ev.code + ', reason "' + ev.reason + '", wasClean ' + ev.wasClean + ')';
  }
  return ev.type + ' event';
}

// expectOpen waits for the open event; it returns '' or what went wrong.
async function expectOpen(ws) {
  const ev = await ws.next();
  return ev.type === 'open' ? '' : 'got ' + show(ev) + ', want open';
}

// expectClose waits for the close event and checks it.
async function expectClose(ws, code, reason) {
  const ev = await ws.next();
  if (ev.type !== 'close') {
    return 'got ' + show(ev) + ', want close';
  }
  if (ev.code !== code || (reason !== null && ev.reason !== reason) || !ev.wasClean) {
    return 'got ' + show(ev) + ', want code ' + code +
      (reason !== null ? ', reason "' + reason + '"' : '') + ', wasClean true';
  }
  return '';
}

const expected = new Map();

function want(text, n) {
  const key = (text ? 't' : 'b') + n;
  if (!expected.has(key)) {
    expected.set(key, text ? payload.string(n) : payload.bytes(false, n));
  }
  return expected.get(key);
}

async function echoOne(ws, text, n) {
  const msg = want(text, n);
  ws.send(msg);
  const ev = await ws.next();
  if (ev.type !== 'message') {
    return 'got ' + show(ev) + ', want the echo';
  }
  if (text) {
    if (typeof ev.data !== 'string') {
      return 'echo is binary, want text';
    }
    if (ev.data !== msg) {
      return 'text echo differs: ' + payload.describe(new TextEncoder().encode(ev.data), true, n);
    }
    return '';
  }
  if (!(ev.data instanceof ArrayBuffer)) {
    return 'echo is text, want binary';
  }
  return payload.equal(ev.data, msg) ? '' : 'binary echo differs: ' + payload.describe(ev.data, false, n);
}

async function runEcho(ep) {
  const prefix = 'page/' + ep.name;
  const ws = connect(ep.path);
  let detail = await expectOpen(ws);
  if (detail === '') {
    const hasDeflate = /(^|[ ,])permessage-deflate\b/.test(ws.extensions);
    if (hasDeflate !== ep.deflate) {
      detail = 'extensions "' + ws.extensions + '", want permessage-deflate ' + (ep.deflate ? 'negotiated' : 'absent');
    }
  }
  await report(prefix + '/open', detail);
  if (ws.readyState !== WebSocket.OPEN) {
    return;
  }
  for (const text of [true, false]) {
    for (const n of ep.sizes) {
      const name = prefix + '/' + (text ? 'text' : 'binary') + '/' + n;
      let d;
      const start = performance.now();
      try {
        d = await echoOne(ws, text, n);
      } catch (e) {
        d = String(e);
      }
      await report(name, d, performance.now() - start);
      if (ws.readyState !== WebSocket.OPEN) {
        return;
      }
    }
  }
  ws.close(1000, 'done');
  await report(prefix + '/close', await expectClose(ws, 1000, null));
}

// runSubprotocol offers x-unknown and chat.v1. With wantProtocol '' the
// server's 101 names no subprotocol, which Chromium treats as a failed
// handshake ("Sent non-empty 'Sec-WebSocket-Protocol' header but no
// response was received"): the socket closes with 1006 without opening.
async function runSubprotocol(name, path, wantProtocol) {
  const ws = connect(path, ['x-unknown', 'chat.v1']);
  if (wantProtocol === '') {
    const ev = await ws.next();
    await report(name, ev.type === 'close' && ev.code === 1006 && !ev.wasClean
      ? '' : 'got ' + show(ev) + ', want close 1006 without open (Chromium fails a handshake that selects no offered subprotocol)');
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
  await report(name, detail);
}

async function runServerClose(cfg) {
  const ws = connect('/ws/server-close');
  let detail = await expectOpen(ws);
  if (detail === '') {
    detail = await expectClose(ws, cfg.serverCode, cfg.serverReason);
  }
  await report('page/server-close', detail);
}

async function runClientClose(cfg) {
  const ws = connect('/ws/client-close');
  let detail = await expectOpen(ws);
  if (detail === '') {
    ws.close(cfg.peerCode, cfg.peerReason);
    // The close event carries the code of the server's answering close
    // frame, which echoes ours.
    detail = await expectClose(ws, cfg.peerCode, null);
  }
  await report('page/client-close', detail);
}

async function guarded(name, f) {
  try {
    await f();
  } catch (e) {
    await report(name, 'exception: ' + (e && e.stack ? e.stack : String(e)));
  }
}

async function main() {
  const cfg = await (await fetch('/config')).json();
  for (const ep of cfg.endpoints) {
    await guarded('page/' + ep.name + '/exception', () => runEcho(ep));
  }
  await guarded('page/subprotocol', () => runSubprotocol('page/subprotocol', '/ws/subprotocol', 'chat.v1'));
  await guarded('page/subprotocol-none', () => runSubprotocol('page/subprotocol-none', '/ws/subprotocol-none', ''));
  await guarded('page/server-close', () => runServerClose(cfg));
  await guarded('page/client-close', () => runClientClose(cfg));
  await post('/done', {});
}

window.addEventListener('error', (e) => {
  report('page/error', 'uncaught: ' + e.message + ' at ' + e.filename + ':' + e.lineno);
});
window.addEventListener('unhandledrejection', (e) => {
  report('page/error', 'unhandled rejection: ' + String(e.reason));
});
window.addEventListener('load', () => {
  main().catch((e) => report('page/error', 'main: ' + String(e)));
});
