// Copyright 2026 The Cascade Authors.
//
// File: bench/nexrender_peer/server.js
// -----------------------------------------------------------------------------
// The open-source nexrender-server (npm @nexrender/server, pinned in
// package.json), the peer of contract §12's HTTP row, as its own `listen`
// runs it (micro over the handler of `createHandler(secret)`), but bound to
// 127.0.0.1 only and on a free port. bench/http_benchmark.py starts it and
// loads it with wrk beside cascade-server.
//
//   NEXRENDER_DATABASE=/tmp/x/database.json node server.js \
//       --secret SECRET [--seed N --ids FILE]
//
// Its jobs live in its JSON-file database (@nexrender/server's
// helpers/disk.js): the whole array in memory, read from NEXRENDER_DATABASE
// when the module loads, written back whole after every insert. The
// variable is required here, so that a run never touches ~/nexrender.
//
// --seed N writes N jobs into the database file before the server loads it,
// each as POST /api/v1/jobs would have made it (@nexrender/types' create and
// validate, state "queued", the creator's address, createdAt and updatedAt),
// and their uids to FILE, one a line. Posting them instead would write the
// whole growing file N times (tens of minutes for 10,000); the server starts
// from the same state either way.
//
// Prints "listening on 127.0.0.1:PORT" to stderr once it listens (stdout is
// nexrender-server's own: a line per request); exits on SIGINT or SIGTERM.

'use strict';

const fs = require('fs');

function usage(message) {
  process.stderr.write(`nexrender_peer: ${message}\n` +
      'usage: NEXRENDER_DATABASE=FILE node server.js --secret SECRET [--seed N --ids FILE]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {secret: '', seed: 0, ids: ''};
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) usage(`${argv[i]} wants a value`);
    if (argv[i] === '--secret') {
      args.secret = value;
    } else if (argv[i] === '--seed') {
      if (!/^\d+$/.test(value) || Number(value) > 1e6) usage(`--seed wants 0-1000000, not '${value}'`);
      args.seed = Number(value);
    } else if (argv[i] === '--ids') {
      args.ids = value;
    } else {
      usage(`unknown flag '${argv[i]}'`);
    }
  }
  // nexrender-server answers every request without a check when its secret
  // is empty; cascade-server checks a token on every request.
  if (!args.secret) usage('--secret is required');
  if (args.seed > 0 && !args.ids) usage('--seed wants --ids FILE');
  return args;
}

function seed(database, count, idsFile) {
  const {create, validate} = require('@nexrender/types/job');
  const now = new Date();
  const jobs = [];
  for (let i = 0; i < count; i++) {
    // The body bench/http_benchmark.py posts, through jobs-create.js's steps.
    const job = create({template: {src: 'file:///projects/main.aep', composition: 'main'}});
    job.state = 'queued';
    job.creator = '127.0.0.1';
    validate(job);
    job.updatedAt = now;  // what helpers/disk.js's insert adds
    job.createdAt = now;
    jobs.push(job);
  }
  fs.writeFileSync(database, JSON.stringify(jobs));
  fs.writeFileSync(idsFile, jobs.map(job => job.uid).join('\n') + '\n');
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const database = process.env.NEXRENDER_DATABASE;
  if (!database) usage('NEXRENDER_DATABASE must name the database file');
  if (args.seed > 0) seed(database, args.seed, args.ids);

  // Loaded only now: its database module reads the file as it loads.
  const micro = require('micro');
  const {createHandler} = require('@nexrender/server');
  const server = micro(createHandler(args.secret));
  server.on('error', error => {
    process.stderr.write(`nexrender_peer: ${error.message}\n`);
    process.exit(1);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stderr.write(`listening on 127.0.0.1:${server.address().port}\n`);
  });
  // At once: close() would wait for the client's keep-alive connections.
  process.on('SIGINT', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
