// Serves server/dashboard/ from the source tree the way cascade-server does
// (`/` is index.html, `/ui/<file>` the rest, the same Content-Security-Policy)
// and passes /api/ through to a running cascade-server, streaming answers as
// they come (the event stream included). For working on the page without
// rebuilding the server, and for run.sh when the binary under test does not
// embed the dashboard.
//   node tests/browser/serve_dashboard.js http://127.0.0.1:8080 [PORT]
// Prints "dashboard on http://127.0.0.1:PORT/" once it listens.

'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../server/dashboard');
// cascade-server's (server/dashboard_assets.h, kDashboardCsp).
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
  + "connect-src 'self'; frame-ancestors 'none'";
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function serveFile(response, relative) {
  const file = path.resolve(ROOT, relative);
  if (!file.startsWith(ROOT + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found');
    return;
  }
  response.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  });
  fs.createReadStream(file).pipe(response);
}

function proxy(request, response, api) {
  const upstream = http.request(new URL(request.url, api), {
    method: request.method, headers: { ...request.headers, host: api.host },
  }, (answer) => {
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  upstream.on('error', (error) => {
    if (!response.headersSent) response.writeHead(502, { 'Content-Type': 'text/plain' });
    response.end(`proxy: ${error.message}`);
  });
  response.on('close', () => upstream.destroy());
  request.pipe(upstream);
}

function start(apiBase, port = 0) {
  const api = new URL(apiBase);
  const server = http.createServer((request, response) => {
    const { pathname } = new URL(request.url, 'http://x');
    if (pathname.startsWith('/api/')) proxy(request, response, api);
    else if (pathname === '/') serveFile(response, 'index.html');
    else if (pathname.startsWith('/ui/')) serveFile(response, decodeURIComponent(pathname.slice(4)));
    else serveFile(response, '\0');  // 404
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (require.main === module) {
  const [api, port] = process.argv.slice(2);
  if (!api) {
    console.error('usage: serve_dashboard.js CASCADE_URL [PORT]');
    process.exit(2);
  }
  start(api, Number(port || 0)).then((server) => {
    console.log(`dashboard on http://127.0.0.1:${server.address().port}/`);
  });
}

module.exports = { start };
