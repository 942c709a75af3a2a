#!/usr/bin/env node
// ws-server.js is the Node side of TestNodeServer: Node's ws package as a
// server for our client.
//
//   node ws-server.js <port>
//
// It listens on 127.0.0.1:<port> (0 picks a free port) and prints
// {"event":"ready","port":N} once listening. The path picks the
// permessage-deflate setting; the query picks the behaviour:
//
//   /plain          no permessage-deflate
//   /deflate        permessage-deflate, threshold 0, context takeover both ways
//   /deflate-nct    ... with server_ and client_no_context_takeover
//   /deflate-bits   ... with server_ and client_max_window_bits=10
//
//   ?id=NAME        names the connection in the events printed
//   &mode=echo            echo every message as it came (the default)
//   &mode=fragment-echo   echo every message in <pieces> fragments ({fin: false})
//   &mode=ping            on text "ping-me" ping with <ping>; on text
//                         "ping-mid" send the binary payload of <size> bytes
//                         in two fragments with a ping <mid> between them;
//                         report a pong as text "pong-seen:<data>" and a
//                         ping as text "ping-seen:<data>"
//   &mode=close-server    on text "close-me" close with <code> and <reason>
//   &pieces=N, &code=N, &reason=S, &ping=S, &mid=S, &size=N
//                         parameters of the modes above
//
// Every connection prints {"event":"connection","id","extensions","protocol"}
// and {"event":"close","id","code","reason"}. A subprotocol "chat.v1" is
// chosen when offered.
'use strict';

const http = require('http');
const WebSocket = require('ws');
const payload = require('./payload.js');

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function handleProtocols(protocols) {
  return protocols.has('chat.v1') ? 'chat.v1' : false;
}

const deflate = { threshold: 0 };
const servers = {
  '/plain': new WebSocket.WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols }),
  '/deflate': new WebSocket.WebSocketServer({ noServer: true, perMessageDeflate: deflate, handleProtocols }),
  '/deflate-nct': new WebSocket.WebSocketServer({
    noServer: true,
    handleProtocols,
    perMessageDeflate: Object.assign({ serverNoContextTakeover: true, clientNoContextTakeover: true }, deflate),
  }),
  '/deflate-bits': new WebSocket.WebSocketServer({
    noServer: true,
    handleProtocols,
    perMessageDeflate: Object.assign({ serverMaxWindowBits: 10, clientMaxWindowBits: 10 }, deflate),
  }),
};

function serve(ws, url) {
  const q = url.searchParams;
  const id = q.get('id') || '';
  const mode = q.get('mode') || 'echo';
  const pieces = Number(q.get('pieces') || '4');
  emit({ event: 'connection', id: id, extensions: ws.extensions, protocol: ws.protocol });
  ws.on('close', (code, reason) => emit({ event: 'close', id: id, code: code, reason: reason.toString() }));
  ws.on('error', (err) => emit({ event: 'error', id: id, error: String(err) }));
  ws.on('message', (data, isBinary) => {
    switch (mode) {
      case 'echo':
        ws.send(data, { binary: isBinary });
        break;
      case 'fragment-echo': {
        let prev = 0;
        const ends = payload.cuts(data.length, pieces).concat([data.length]);
        ends.forEach((end, i) => {
          ws.send(data.subarray(prev, end), { binary: isBinary, fin: i === ends.length - 1 });
          prev = end;
        });
        break;
      }
      case 'ping':
        if (!isBinary && data.toString() === 'ping-me') {
          ws.ping(q.get('ping'));
        } else if (!isBinary && data.toString() === 'ping-mid') {
          // A binary message in two fragments with a ping between them.
          const msg = Buffer.from(payload.bytes(false, Number(q.get('size'))).buffer);
          const half = msg.length >> 1;
          ws.send(msg.subarray(0, half), { binary: true, fin: false });
          ws.ping(q.get('mid'));
          ws.send(msg.subarray(half), { binary: true, fin: true });
        }
        break;
      case 'close-server':
        if (!isBinary && data.toString() === 'close-me') {
          ws.close(Number(q.get('code')), q.get('reason') || '');
        }
        break;
    }
  });
  if (mode === 'ping') {
    ws.on('pong', (data) => ws.send('pong-seen:' + data.toString()));
    ws.on('ping', (data) => ws.send('ping-seen:' + data.toString()));
  }
}

const server = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const wss = servers[url.pathname];
  if (!wss) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, url));
});

const port = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node ws-server.js <port>\n');
  process.exit(2);
}
server.listen(port, '127.0.0.1', () => {
  emit({ event: 'ready', port: server.address().port });
});

// The Go test ends us by killing the process; a closed stdin means the
// test is gone too.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
